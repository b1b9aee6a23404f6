// trainer/replay_check.cpp
#include "trainer/replay_check.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace trainer {

namespace {

uint64_t bits_of(double x) {
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

std::string show(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g (0x%016" PRIx64 ")", x, bits_of(x));
  return buf;
}

}  // namespace

ReplayCheck::ReplayCheck(int every, const kernels::Ops& ops, kernels::Device device)
    : every_(every), ops_(ops), acc_(device, kernels::DType::F32, {1}) {}

double ReplayCheck::grad_sum_squares(model::Model& model) {
  ops_.zero(acc_.t, {});
  ops_.sum_squares(acc_.t, model.params().all_grads(), {});
  float v = 0;
  kernels::copy_to_host(&v, acc_.t.data, acc_.t.device, sizeof v);
  return v;
}

std::string ReplayCheck::check(int step, model::Model& model, const std::vector<int32_t>& batch, double loss,
                               float scale, bool perturb) {
  const double first_sq = grad_sum_squares(model);
  model.params().zero_grads(ops_);
  double again = model.forward(batch);
  model.backward(scale);
  const double again_sq = grad_sum_squares(model);
  if (perturb) again = std::nextafter(again, std::numeric_limits<double>::infinity());
  if (bits_of(again) == bits_of(loss) && bits_of(again_sq) == bits_of(first_sq)) return "";
  return "replay check failed at step " + std::to_string(step) +
         ": the first micro-batch, run twice through the same weights, gave loss " + show(loss) + " then " +
         show(again) + ", gradient sum of squares " + show(first_sq) + " then " + show(again_sq) +
         ". Identical inputs gave different numbers: a nondeterministic kernel, or data corrupted in memory or by "
         "the hardware";
}

}  // namespace trainer
