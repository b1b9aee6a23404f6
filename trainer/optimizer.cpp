// trainer/optimizer.cpp
#include "trainer/optimizer.h"

#include <algorithm>
#include <cmath>

namespace trainer {

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

AdamW::AdamW(const configs::OptimConfig& cfg, ParamArena& params, const kernels::Ops& ops, OptimizerGroups groups)
    : cfg_(cfg), params_(params), ops_(ops), g_(groups), sync_(params.all_grads(), groups.dp),
      norm_acc_(params.device(), DType::F32, {2}), scalar_(params.device(), DType::F32, {1}) {
  const int dp = g_.dp ? g_.dp->size() : 1, dp_rank = g_.dp ? g_.dp->rank() : 0;
  if (!g_.zero1) return;
  own_ = parallel::zero_shard(params.total_elements(), dp, dp_rank);
  const bool own_master = params.compute_dtype() != params.master_dtype();
  const int64_t n = own_.count;
  shard_ = kernels::Buffer(params.device(), size_t(n) * sizeof(float) * (own_master ? 4 : 3));
  shard_grad_ = shard_.view(DType::F32, {n});
  shard_m_ = shard_.view(DType::F32, {n}, size_t(n) * 4);
  shard_v_ = shard_.view(DType::F32, {n}, size_t(n) * 8);
  ops.zero(shard_m_, {});
  ops.zero(shard_v_, {});
  if (own_master) {
    // Keep only this rank's block of the fp32 master; the compute copy carries the full weights.
    shard_master_ = shard_.view(DType::F32, {n}, size_t(n) * 12);
    ops.cast(shard_master_, flat_slice(params.all_master(), own_.begin, n), {});
    params.release_master();
  }
}

AdamW::~AdamW() = default;

// Sum of squares of `grads` (a flat range of the arena starting at element first_element), each
// replicated-over-tp element counted once, summed over tp (and over dp for ZeRO blocks).
double AdamW::grad_norm(Tensor grads, int64_t first_element) {
  ops_.zero(norm_acc_.t, {});
  const Tensor sharded = norm_acc_.t.slice_rows(0, 1), replicated = norm_acc_.t.slice_rows(1, 1);
  const int64_t end = first_element + grads.numel();
  for (int i = 0; i < params_.size(); ++i) {
    const int64_t b = std::max(first_element, params_.offset(i));
    const int64_t e = std::min(end, params_.offset(i) + params_.grad(i).numel());
    if (b >= e) continue;
    const bool rep = params_.spec(i).split == Split::kReplicated;
    ops_.sum_squares(rep ? replicated : sharded, flat_slice(grads, b - first_element, e - b), {});
  }
  float acc[2] = {0, 0};
  kernels::device_copy(acc, Device::kCpu, norm_acc_.t.data, params_.device(), sizeof acc);
  const bool tp_first = !g_.tp || g_.tp->rank() == 0;
  float local = acc[0] + (tp_first ? acc[1] : 0.f);
  const bool over_tp = g_.tp && g_.tp->size() > 1, over_dp = g_.zero1 && g_.dp && g_.dp->size() > 1;
  if (over_tp || over_dp) {
    kernels::device_copy(scalar_.t.data, params_.device(), &local, Device::kCpu, sizeof local);
    if (over_tp) g_.tp->all_reduce(scalar_.t, parallel::ReduceOp::kSum, {});
    if (over_dp) g_.dp->all_reduce(scalar_.t, parallel::ReduceOp::kSum, {});
    kernels::device_copy(&local, Device::kCpu, scalar_.t.data, params_.device(), sizeof local);
  }
  return std::sqrt(double(local));
}

// AdamW over arena elements [begin, begin+count), one call per parameter piece (weight decay is
// per parameter). grads holds exactly that range.
void AdamW::update_range(int64_t begin, int64_t count, Tensor grads, const kernels::AdamWArgs& base) {
  const bool zero = g_.zero1;
  for (int i = 0; i < params_.size(); ++i) {
    const int64_t b = std::max(begin, params_.offset(i));
    const int64_t e = std::min(begin + count, params_.offset(i) + params_.grad(i).numel());
    if (b >= e) continue;
    kernels::AdamWArgs args = base;
    args.weight_decay = params_.spec(i).decay ? float(cfg_.weight_decay) : 0.f;
    const bool separate = params_.compute_dtype() != params_.master_dtype();
    const Tensor master = zero && separate ? flat_slice(shard_master_, b - begin, e - b)
                                           : flat_slice(params_.all_master(), b, e - b);
    const Tensor compute = separate ? flat_slice(params_.all_compute(), b, e - b) : Tensor{};
    const Tensor m = zero ? flat_slice(shard_m_, b - begin, e - b) : flat_slice(params_.all_m(), b, e - b);
    const Tensor v = zero ? flat_slice(shard_v_, b - begin, e - b) : flat_slice(params_.all_v(), b, e - b);
    ops_.adamw_update(master, compute, flat_slice(grads, b - begin, e - b), m, v, args, {});
  }
}

StepStats AdamW::step(double lr, double loss_scale) {
  StepStats st;
  Tensor grads = params_.all_grads();
  int64_t first = 0;
  if (g_.zero1) {
    sync_.reduce_scatter_avg(shard_grad_, {});
    grads = shard_grad_;
    first = own_.begin;
  }
  st.grad_norm = grad_norm(grads, first) / loss_scale;
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
  update_range(first, grads.numel(), grads, args);
  if (g_.zero1 && g_.dp && g_.dp->size() > 1) {
    // Every dp rank updated only its block: gather the blocks into everyone's full compute copy.
    // The block is staged first: all_gather's input must not alias its output.
    const Tensor full = params_.all_compute();
    kernels::OwnedTensor block(params_.device(), full.dtype, {own_.count});
    kernels::device_copy(block.t.data, params_.device(), flat_slice(full, own_.begin, own_.count).data,
                         params_.device(), block.t.nbytes());
    g_.dp->all_gather(full, block.t, {});
  }
  return st;
}

}  // namespace trainer
