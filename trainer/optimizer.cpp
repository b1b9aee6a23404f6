// trainer/optimizer.cpp
#include "trainer/optimizer.h"

#include <algorithm>
#include <cmath>

namespace trainer {

using model::ParamSpec;
using model::Split;
using parallel::flat_slice;

LossScaler LossScaler::for_precision(kernels::DType compute) {
  LossScaler s;
  if (compute == kernels::DType::F16) {
    s.active = true;
    s.scale = 65536.0;  // 2^16: large, and halved quickly if it overflows early on
  }
  return s;
}

bool LossScaler::update(bool overflow) {
  if (!active) return !overflow;
  if (overflow) {
    scale = std::max(1.0, scale / 2);
    clean_steps = 0;
    return false;
  }
  if (++clean_steps >= window) {
    scale *= 2;
    clean_steps = 0;
  }
  return true;
}

AdamW::AdamW(const configs::OptimConfig& cfg, ParamArena& params, const kernels::Ops& ops, parallel::ShardRange owned)
    : cfg_(cfg), params_(params), ops_(ops), own_(owned), sharded_(owned.count != params.total_elements()),
      norm_acc_(params.device(), DType::F32, {2}) {
  KILN_CHECK(owned.begin >= 0 && owned.count >= 0 && owned.begin + owned.count <= params.total_elements(),
             "AdamW: owned range outside the parameter arena");
  if (!sharded_) return;
  const bool own_master = params.compute_dtype() != params.master_dtype();
  const int64_t n = own_.count;
  shard_ = kernels::Buffer(params.device(), size_t(n) * sizeof(float) * (own_master ? 3 : 2));
  shard_m_ = shard_.view(DType::F32, {n});
  shard_v_ = shard_.view(DType::F32, {n}, size_t(n) * 4);
  ops.zero(shard_m_, {});
  ops.zero(shard_v_, {});
  if (own_master) {
    // Keep only the owned block of the fp32 master; the compute copy carries the full weights.
    shard_master_ = shard_.view(DType::F32, {n}, size_t(n) * 8);
    ops.cast(shard_master_, flat_slice(params.all_master(), own_.begin, n), {});
    params.release_master();
  }
}

AdamW::~AdamW() = default;

// Sums of squares of `grads` (the owned range), per parameter piece so each is filed as tp-sharded
// or replicated.
parallel::GradSquares AdamW::sum_squares(Tensor grads) {
  ops_.zero(norm_acc_.t, {});
  const Tensor sharded = norm_acc_.t.slice_rows(0, 1), replicated = norm_acc_.t.slice_rows(1, 1);
  const int64_t first = own_.begin, end = own_.begin + grads.numel();
  for (int i = 0; i < params_.size(); ++i) {
    const int64_t b = std::max(first, params_.offset(i));
    const int64_t e = std::min(end, params_.offset(i) + params_.grad(i).numel());
    if (b >= e) continue;
    const bool rep = params_.spec(i).split == Split::kReplicated;
    ops_.sum_squares(rep ? replicated : sharded, flat_slice(grads, b - first, e - b), {});
  }
  float acc[2] = {0, 0};
  kernels::device_copy(acc, Device::kCpu, norm_acc_.t.data, params_.device(), sizeof acc);
  return {acc[0], acc[1]};
}

// AdamW over the owned range, one call per parameter piece (weight decay is per parameter).
void AdamW::update_range(Tensor grads, const kernels::AdamWArgs& base) {
  const int64_t begin = own_.begin, count = grads.numel();
  const bool separate = params_.compute_dtype() != params_.master_dtype();
  for (int i = 0; i < params_.size(); ++i) {
    const int64_t b = std::max(begin, params_.offset(i));
    const int64_t e = std::min(begin + count, params_.offset(i) + params_.grad(i).numel());
    if (b >= e) continue;
    kernels::AdamWArgs args = base;
    args.weight_decay = params_.spec(i).decay ? float(cfg_.weight_decay) : 0.f;
    const Tensor master = sharded_ && separate ? flat_slice(shard_master_, b - begin, e - b)
                                               : flat_slice(params_.all_master(), b, e - b);
    const Tensor compute = separate ? flat_slice(params_.all_compute(), b, e - b) : Tensor{};
    const Tensor m = sharded_ ? flat_slice(shard_m_, b - begin, e - b) : flat_slice(params_.all_m(), b, e - b);
    const Tensor v = sharded_ ? flat_slice(shard_v_, b - begin, e - b) : flat_slice(params_.all_v(), b, e - b);
    ops_.adamw_update(master, compute, flat_slice(grads, b - begin, e - b), m, v, args, {});
  }
}

StepStats AdamW::step(Tensor grads, double lr, double scaled_norm, double loss_scale) {
  StepStats st;
  st.grad_norm = scaled_norm / loss_scale;
  if (!std::isfinite(st.grad_norm)) {
    st.skipped = true;
    return st;
  }
  // Clip to grad_clip in global L2 norm; fold the loss-scale removal into the same factor.
  double clip = 1.0;
  if (cfg_.grad_clip > 0 && st.grad_norm > cfg_.grad_clip) clip = cfg_.grad_clip / st.grad_norm;
  ++t_;
  kernels::AdamWArgs args;
  args.lr = float(lr);
  args.beta1 = float(cfg_.beta1);
  args.beta2 = float(cfg_.beta2);
  args.eps = float(cfg_.eps);
  args.grad_scale = float(clip / loss_scale);
  args.step = t_;
  update_range(grads, args);
  return st;
}

StepStats adamw_step_one_rank(AdamW& opt, double lr, double loss_scale) {
  KILN_CHECK(!opt.sharded(), "adamw_step_one_rank: the optimizer is sharded over dp ranks");
  const Tensor grads = opt.params().all_grads();
  const double norm = std::sqrt(double(opt.sum_squares(grads).share(/*tp_rank=*/0)));
  return opt.step(grads, lr, norm, loss_scale);
}

}  // namespace trainer
