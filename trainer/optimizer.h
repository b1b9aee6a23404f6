// trainer/optimizer.h
// AdamW over the parameter arena with global-norm gradient clipping and, for fp16, dynamic loss
// scaling. Biases and norm parameters get no weight decay (ParamSpec::decay).
//
// AdamW is local: it updates the range of the flat arena it is handed (`owned`: all of it, or a
// ZeRO-1 block) from the gradients of that range, and knows nothing of ranks. Reducing the
// gradients, the cross-rank norm and gathering the updated weights are parallel::GradSync's.
// Per step, the trainer calls:
//   sum_squares(grads)  -> this range's squared gradients, tp-sharded and replicated apart
//   step(grads, ...)    -> overflow check -> clip factor -> one fused AdamW update over the range
//                          (grad_scale folds loss-scale removal and clipping in)
// Both are one multi-tensor op each (kernels/ops.h: sum_squares_multi, adamw_update_multi) over
// segment tables of the range's parameter pieces, built and uploaded once by the constructor.
#pragma once

#include "configs/config.h"
#include "kernels/ops.h"
#include "model/params.h"
#include "parallel/grad_sync.h"

namespace trainer {

using kernels::Device;
using kernels::DType;
using kernels::Tensor;
using model::ParamArena;

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
  bool skipped = false;  // non-finite gradients (fp16 overflow): parameters unchanged
};

class AdamW {
 public:
  // owned: the range of params' flat buffers this optimizer updates. When it is less than the whole
  // arena (ZeRO-1), the moments, and the fp32 master when the compute copy is not fp32, are kept
  // here for that range only and the arena's full master is released.
  AdamW(const configs::OptimConfig& cfg, ParamArena& params, const kernels::Ops& ops, parallel::ShardRange owned);
  ~AdamW();

  // Squares of `grads` (the owned range's gradients), split by how the parameters are held over tp.
  // One host sync: the sums are read back.
  parallel::GradSquares sum_squares(Tensor grads);
  // The same sums into out ((2) fp32 on the device: tp-sharded, replicated), left there for the
  // caller to read with whatever else it reads (the trainer: with the step's loss, in one copy).
  void sum_squares_into(Tensor grads, Tensor out);
  // One update with learning rate lr from `grads` (owned range), given the global gradient norm of
  // the gradients as they are (still carrying loss_scale). Returns what it did.
  StepStats step(Tensor grads, double lr, double scaled_norm, double loss_scale);

  int steps_taken() const { return t_; }
  void set_steps_taken(int t) { t_ = t; }  // on resume: AdamW's bias correction continues

  // What checkpoints need to see of the state (trainer/snapshot.cpp). When sharded the moments
  // (and, when the compute dtype is not fp32, the master) exist only for the owned range.
  const ParamArena& params() const { return params_; }
  bool sharded() const { return sharded_; }
  parallel::ShardRange owned() const { return own_; }
  Tensor shard_m() const { return shard_m_; }
  Tensor shard_v() const { return shard_v_; }
  Tensor shard_master() const { return shard_master_; }  // empty unless sharded with bf16/fp16 compute

 private:
  void upload_segment_tables();
  void update_range(Tensor grads, const kernels::AdamWArgs& base);

  configs::OptimConfig cfg_;
  ParamArena& params_;
  const kernels::Ops& ops_;
  parallel::ShardRange own_;
  bool sharded_ = false;
  kernels::Buffer shard_;          // sharded: m, v (and master in bf16 runs) of the owned range
  Tensor shard_m_, shard_v_, shard_master_;
  kernels::OwnedTensor norm_acc_;  // (2) fp32 on the params' device: [tp-sharded, replicated]
  // Segment tables (kernels/segments.h) of the owned range's pieces, on the params' device; empty
  // when the range holds no parameter element. Flags: weight decay; replicated over tp.
  kernels::OwnedTensor decay_segments_, norm_segments_;
  int t_ = 0;                      // completed (not skipped) updates, for bias correction
};

// A single process's whole update (the arena unsharded, no ranks to reduce over): the norm of all
// gradients, clip, AdamW. What tests and the GPU benchmark run; kiln train goes through
// parallel::GradSync (Trainer::train_step) for the same arithmetic on any layout.
StepStats adamw_step_one_rank(AdamW& opt, double lr, double loss_scale);

}  // namespace trainer
