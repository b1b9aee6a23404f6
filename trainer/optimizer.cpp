// trainer/optimizer.cpp
#include "trainer/optimizer.h"

#include <cmath>

namespace trainer {

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

AdamW::AdamW(const configs::OptimConfig& cfg, ParamArena& params, const kernels::Ops& ops)
    : cfg_(cfg), params_(params), ops_(ops), norm_acc_(params.device(), DType::F32, {1}) {}

StepStats AdamW::step(double lr, double loss_scale) {
  StepStats st;
  ops_.zero(norm_acc_.t, {});
  ops_.sum_squares(norm_acc_.t, params_.all_grads(), {});
  float sumsq = 0;
  kernels::device_copy(&sumsq, Device::kCpu, norm_acc_.t.data, params_.device(), sizeof(float));
  st.grad_norm = std::sqrt(double(sumsq)) / loss_scale;
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
  for (int i = 0; i < params_.size(); ++i) {
    args.weight_decay = params_.spec(i).decay ? float(cfg_.weight_decay) : 0.f;
    const bool separate = params_.compute_dtype() != params_.master_dtype();
    ops_.adamw_update(params_.master(i), separate ? params_.compute(i) : Tensor{}, params_.grad(i),
                      params_.m(i), params_.v(i), args, {});
  }
  return st;
}

}  // namespace trainer
