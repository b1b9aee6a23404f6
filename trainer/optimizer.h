// trainer/optimizer.h
// AdamW over the parameter arena with global-norm gradient clipping and, for fp16, dynamic loss
// scaling. Biases and LayerNorm parameters get no weight decay (ParamSpec::decay).
//
// Order inside step(): grad norm (of the unscaled gradients) -> overflow check -> clip factor ->
// one fused AdamW update per parameter (grad_scale folds loss-scale removal and clipping into the
// update, so gradients are read once) -> compute copies refreshed from the masters.
#pragma once

#include "configs/config.h"
#include "kernels/ops.h"
#include "trainer/params.h"

namespace trainer {

// fp16 dynamic loss scaling: on overflow skip the step and halve the scale; after `window` clean
// steps in a row double it. Inactive (scale 1) for fp32 and bf16.
struct LossScaler {
  bool active = false;
  double scale = 1.0;
  int window = 2000;
  int clean_steps = 0;
  static LossScaler for_precision(kernels::DType compute);
  // Returns false (step must be skipped) when grads overflowed; updates the scale either way.
  bool update(bool overflow);
};

struct StepStats {
  double grad_norm = 0;  // global L2 norm of the (unscaled, pre-clip) gradients
  bool skipped = false;  // fp16 overflow: parameters unchanged
};

class AdamW {
 public:
  AdamW(const configs::OptimConfig& cfg, ParamArena& params, const kernels::Ops& ops);
  // Applies one update with learning rate lr to every parameter from its accumulated gradient.
  // loss_scale is the factor the gradients carry (1 unless fp16).
  StepStats step(double lr, double loss_scale);
  int steps_taken() const { return t_; }

 private:
  configs::OptimConfig cfg_;
  ParamArena& params_;
  const kernels::Ops& ops_;
  kernels::OwnedTensor norm_acc_;  // (1) fp32 on the params' device
  int t_ = 0;                      // completed (not skipped) updates, for bias correction
};

}  // namespace trainer
