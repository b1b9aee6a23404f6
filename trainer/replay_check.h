// trainer/replay_check.h
// The deterministic replay check (train.replay_check_every: N, 0 = off). kiln's kernels are
// deterministic, so the same micro-batch through the same weights must give the same loss and the
// same gradients, bit for bit. Every N steps the trainer runs the step's first micro-batch twice
// and compares the loss and the sum of squares of this rank's gradients; a difference means a
// nondeterministic kernel or silently corrupted data (memory, hardware), and stops the run with a
// report (exit 4, no checkpoint of that state).
//
// Cost: one extra forward + backward of one micro-batch and two sums of squares over the local
// gradients, every N steps (1/accumulation of a step's compute when N = 1). On that step the
// first micro-batch's dp reduction is not started from inside backward (it runs in finish()),
// because the replay must see this rank's own gradients; the numbers are unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "model/gpt2.h"

namespace trainer {

class ReplayCheck {
 public:
  ReplayCheck(int every, const kernels::Ops& ops, kernels::Device device);
  bool due(int step) const { return every_ > 0 && step % every_ == 0; }

  // Call right after the first micro-batch's forward (which returned `loss`) and backward (with
  // `scale`), before any other gradient reaches the arena. Recomputes them and compares: returns an
  // empty string when both agree bit for bit, else the report. The arena's gradients are the
  // recomputed ones afterwards (equal to the first when the check passes). perturb: move the
  // recomputed loss by one ulp (test hook).
  std::string check(int step, model::Gpt2Model& model, const std::vector<int32_t>& batch, double loss, float scale,
                    bool perturb);

 private:
  double grad_sum_squares(model::Gpt2Model& model);

  int every_;
  const kernels::Ops& ops_;
  kernels::OwnedTensor acc_;  // (1) fp32 on the device
};

}  // namespace trainer
