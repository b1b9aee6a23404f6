// trainer/optimizer.cpp
#include "trainer/optimizer.h"

#include <algorithm>
#include <cmath>

#include "kernels/segments.h"

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
  upload_segment_tables();
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

// The pieces of every parameter inside the owned range, twice: flagged by weight decay (AdamW) and
// by how tp holds them (the norm: slot 0 tp-sharded, 1 replicated). Built and copied to the
// params' device once, here, so a step uploads and allocates nothing.
void AdamW::upload_segment_tables() {
  std::vector<kernels::Segment> decay, norm;
  const int64_t begin = own_.begin, end = own_.begin + own_.count;
  for (int i = 0; i < params_.size(); ++i) {
    const int64_t b = std::max(begin, params_.offset(i));
    const int64_t e = std::min(end, params_.offset(i) + params_.grad(i).numel());
    if (b >= e) continue;
    const ParamSpec& spec = params_.spec(i);
    decay.push_back({b - begin, e - b, spec.decay ? 1u : 0u});
    norm.push_back({b - begin, e - b, spec.split == Split::kReplicated ? 1u : 0u});
  }
  const auto upload = [&](const std::vector<kernels::Segment>& pieces, kernels::OwnedTensor* table) {
    const std::vector<uint32_t> words = kernels::encode_segments(pieces, own_.count, /*flag_limit=*/2);
    if (words.empty()) return;  // nothing of any parameter in this range: the ops are skipped
    *table = kernels::OwnedTensor(params_.device(), DType::U32,
                                  {int64_t(words.size()) / kernels::kSegmentWords, kernels::kSegmentWords});
    kernels::copy_from_host(table->t.data, params_.device(), words.data(), words.size() * sizeof(uint32_t));
  };
  upload(decay, &decay_segments_);
  upload(norm, &norm_segments_);
}

// Sums of squares of `grads` (the owned range) in one op over the norm segment table: each piece
// filed as tp-sharded or replicated.
parallel::GradSquares AdamW::sum_squares(Tensor grads) {
  sum_squares_into(grads, norm_acc_.t);
  float acc[2] = {0, 0};
  kernels::copy_to_host(acc, norm_acc_.t.data, params_.device(), sizeof acc);
  return {acc[0], acc[1]};
}

void AdamW::sum_squares_into(Tensor grads, Tensor out) {
  KILN_CHECK(grads.numel() == own_.count, "AdamW::sum_squares: grads do not cover the owned range");
  KILN_CHECK(out.dtype == DType::F32 && out.numel() == 2, "AdamW::sum_squares: out must be (2) fp32");
  ops_.zero(out, {});
  if (!norm_segments_.t.empty()) ops_.sum_squares_multi(out, grads, norm_segments_.t, {});
}

// AdamW over the owned range in one op; each piece's weight decay comes from the decay segment table.
void AdamW::update_range(Tensor grads, const kernels::AdamWArgs& base) {
  const int64_t begin = own_.begin, count = own_.count;
  KILN_CHECK(grads.numel() == count, "AdamW::step: grads do not cover the owned range");
  if (decay_segments_.t.empty()) return;
  const bool separate = params_.compute_dtype() != params_.master_dtype();
  kernels::AdamWArgs args = base;
  args.weight_decay = float(cfg_.weight_decay);
  const Tensor master = sharded_ && separate ? shard_master_ : flat_slice(params_.all_master(), begin, count);
  const Tensor compute = separate ? flat_slice(params_.all_compute(), begin, count) : Tensor{};
  const Tensor m = sharded_ ? shard_m_ : flat_slice(params_.all_m(), begin, count);
  const Tensor v = sharded_ ? shard_v_ : flat_slice(params_.all_v(), begin, count);
  ops_.adamw_update_multi(master, compute, grads, m, v, decay_segments_.t, args, {});
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
