// parallel/layout.h
// dp x tp rank arithmetic and the checks that a model can be split that way. Pure: no
// communication, so it runs (and fails with a clear message) before anything is allocated.
#pragma once

#include <string>

#include "configs/config.h"

namespace parallel {

struct Layout {
  int world = 1, dp = 1, tp = 1;
  int rank = 0, dp_rank = 0, tp_rank = 0;  // rank = dp_rank * tp + tp_rank
  std::string str() const;                 // "dp=2 tp=2 (world 4)"
};

// Throws kernels::InputError naming the numbers when: world % tp != 0, n_head % tp, d_ff % tp,
// vocab_size % tp (the padded vocab), n_kv_head % tp (llama), tp < 1, or zero not in {0, 1}.
// zero=1 is allowed with any dp
// (with dp=1 there is nothing to shard and the optimizer runs unsharded).
Layout make_layout(int world_size, int rank, const configs::Config& cfg);

}  // namespace parallel
