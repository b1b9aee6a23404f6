// trainer/optimizer.h
// AdamW over the parameter arena with global-norm gradient clipping, data-parallel gradient
// averaging (plain or ZeRO-1) and, for fp16, dynamic loss scaling. Biases and LayerNorm parameters
// get no weight decay (ParamSpec::decay).
//
// Order inside step(): (ZeRO-1 only: reduce-scatter of this rank's block of the grads, averaged
// over dp; without ZeRO the trainer's GradSync has already averaged them, overlapped with the
// backward pass) -> global grad norm (of the unscaled grads, over tp shards and ZeRO blocks; each
// replicated element counted once) -> overflow check -> clip factor -> one fused AdamW update per
// parameter piece (grad_scale folds loss-scale removal and clipping in) -> under ZeRO-1 the updated
// blocks are all-gathered so every dp rank has the full compute weights again.
#pragma once

#include <memory>

#include "configs/config.h"
#include "kernels/ops.h"
#include "parallel/comm.h"
#include "parallel/grad_sync.h"
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

// The groups the optimizer talks to; null comms mean a group of one. Without ZeRO-1 the gradients
// handed to step() must already be averaged over dp (parallel::GradSync does that).
struct OptimizerGroups {
  parallel::Comm* dp = nullptr;
  parallel::Comm* tp = nullptr;
  bool zero1 = false;  // shard AdamW moments (and the bf16 run's fp32 master) over dp
};

class AdamW {
 public:
  AdamW(const configs::OptimConfig& cfg, ParamArena& params, const kernels::Ops& ops, OptimizerGroups groups = {});
  ~AdamW();
  // Applies one update with learning rate lr to every parameter from its accumulated gradient.
  // loss_scale is the factor the gradients carry (1 unless fp16).
  StepStats step(double lr, double loss_scale);
  int steps_taken() const { return t_; }
  void set_steps_taken(int t) { t_ = t; }  // on resume: AdamW's bias correction continues

  // What checkpoints need to see of the state (trainer/snapshot.cpp). Under ZeRO-1 the moments
  // (and, when the compute dtype is not fp32, the master) exist only for the owned block.
  bool zero1() const { return g_.zero1; }
  parallel::ShardRange owned() const { return own_; }
  Tensor shard_m() const { return shard_m_; }
  Tensor shard_v() const { return shard_v_; }
  Tensor shard_master() const { return shard_master_; }  // empty unless ZeRO-1 with bf16/fp16 compute

 private:
  double grad_norm(Tensor grads, int64_t first_element);
  void update_range(int64_t begin, int64_t count, Tensor grads, const kernels::AdamWArgs& base);

  configs::OptimConfig cfg_;
  ParamArena& params_;
  const kernels::Ops& ops_;
  OptimizerGroups g_;
  parallel::GradSync sync_;
  parallel::ShardRange own_;       // ZeRO-1: the block of the flat arena this dp rank updates
  kernels::Buffer shard_;          // ZeRO-1: grad, m, v (and master in bf16 runs) of that block
  Tensor shard_grad_, shard_m_, shard_v_, shard_master_;
  kernels::OwnedTensor norm_acc_;  // (2) fp32 on the params' device: [tp-sharded, replicated]
  kernels::OwnedTensor scalar_;    // (1) fp32: a reduction over groups
  int t_ = 0;                      // completed (not skipped) updates, for bias correction
};

}  // namespace trainer
