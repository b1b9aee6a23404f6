// parallel/layout.cpp
// make_layout: turns (world size, this rank, config) into the dp x tp coordinates of this rank, or
// an InputError (exit 2) that names the numbers which do not fit. Called once at start-up, before
// any communicator or buffer exists, so a bad layout costs nothing but the message.
// Not here: creating communicators (groups.cpp), splitting tensors (tp_linear).
//
// Rank layout (Megatron's, see groups.h): tensor-parallel ranks are adjacent,
//   rank = dp_rank * tp + tp_rank,   dp_rank = rank / tp,   tp_rank = rank % tp
// so with 8 GPUs per node and tp <= 8 a tp group never crosses a node, and its (frequent,
// latency-bound) all-reduces stay on NVLink; only the dp gradient all-reduce crosses nodes.
//
// Example, world 4, tp 2:        tp groups {0,1} {2,3}      dp groups {0,2} {1,3}
//   rank     0  1  2  3
//   dp_rank  0  0  1  1
//   tp_rank  0  1  0  1
#include "parallel/layout.h"

#include <string>
#include <vector>

#include "kernels/check.h"

namespace parallel {

namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

// "parallel.tp = 3 does not divide model.n_head = 12": both keys and both values, because the fix
// is to change one of the two and the user needs to see which numbers were used (after overrides).
void require_divides(std::vector<std::string>& problems, int tp, const char* key, int value,
                     const char* why) {
  if (tp >= 1 && value % tp != 0)
    problems.push_back("parallel.tp = " + std::to_string(tp) + " does not divide " + key + " = " +
                       std::to_string(value) + " (" + why + ")");
}

}  // namespace

std::string Layout::str() const {
  return "dp=" + std::to_string(dp) + " tp=" + std::to_string(tp) + " (world " + std::to_string(world) + ")";
}

Layout make_layout(int world_size, int rank, const configs::Config& cfg) {
  // The world size and rank come from the launcher, not from the user's config: a bad value here
  // is a bug in launch/, not bad input.
  KILN_CHECK(world_size >= 1, "make_layout: world size " + std::to_string(world_size) + " < 1");
  KILN_CHECK(rank >= 0 && rank < world_size,
             "make_layout: rank " + std::to_string(rank) + " outside [0, " + std::to_string(world_size) + ")");

  const int tp = cfg.parallel.tp;
  const int zero = cfg.parallel.zero;
  // Collected, not thrown one at a time: a user trying a new layout sees every mismatch at once
  // (the same habit as configs::validate).
  std::vector<std::string> problems;
  if (tp < 1) {
    problems.push_back("parallel.tp = " + std::to_string(tp) + " must be at least 1");
  } else {
    if (world_size % tp != 0)
      problems.push_back("world size " + std::to_string(world_size) + " is not divisible by parallel.tp = " +
                         std::to_string(tp) + " (dp = world size / tp must be a whole number)");
    // What tensor parallelism splits (parallel/tp_linear): attention heads, MLP columns, and the
    // rows of the (padded) vocabulary for the vocab-parallel embedding and cross-entropy.
    require_divides(problems, tp, "model.n_head", cfg.model.n_head, "each tp rank holds n_head / tp heads");
    require_divides(problems, tp, "model.d_ff", cfg.model.d_ff, "each tp rank holds d_ff / tp MLP columns");
    require_divides(problems, tp, "model.vocab_size", cfg.model.vocab_size,
                    "the padded vocabulary is split into tp equal row blocks");
    // Llama's grouped-query attention: k and v are split by their own heads, each rank keeping
    // the key/value heads its query heads read.
    if (cfg.model.is_llama())
      require_divides(problems, tp, "model.n_kv_head", cfg.model.kv_heads(),
                      "each tp rank holds n_kv_head / tp key/value heads");
  }
  // ZeRO-1 shards the optimizer state over the dp group; with dp = 1 there is one shard, which is
  // the same as no sharding, so zero = 1 is accepted for every dp (a config need not change when
  // it moves from 1 GPU to 8). Only the value itself is checked.
  if (zero != 0 && zero != 1)
    problems.push_back("parallel.zero = " + std::to_string(zero) + " must be 0 or 1");
  if (!problems.empty()) throw kernels::InputError("parallel layout: " + join(problems));

  Layout l;
  l.world = world_size;
  l.tp = tp;
  l.dp = world_size / tp;
  l.rank = rank;
  l.dp_rank = rank / tp;
  l.tp_rank = rank % tp;
  return l;
}

}  // namespace parallel
