// tests/kernels/test_adamw.cpp
// AdamW update through cpu::kOps.adamw_update: one and two steps against values worked out by
// hand (below), weight decay off and on, grad_scale, fp64 state, the compute-copy refresh, and a
// long vector against an independent restatement of the formula in double.
// Not here: clipping and lr schedules (trainer/optimizer tests).
//
// Hand computation, lr 0.1, beta1 0.9, beta2 0.95, eps 1e-8, p0 = 1, m0 = v0 = 0:
//  step 1, g = 0.5:           m = 0.05, v = 0.0125, mhat = 0.05/0.1 = 0.5, vhat = 0.0125/0.05 = 0.25
//                             update = 0.5/(0.5 + 1e-8) = 0.99999998
//                             wd 0:   p = 1 - 0.1 * 0.99999998           = 0.900000002
//                             wd 0.1: p = 1 - 0.1 * (0.99999998 + 0.1)   = 0.890000002
//  step 2, grad -0.5 x scale 0.5 = g -0.25:
//                             m = 0.045 - 0.025 = 0.02, v = 0.011875 + 0.003125 = 0.015
//                             mhat = 0.02/0.19 = 0.105263158, vhat = 0.015/0.0975 = 0.153846154
//                             update = 0.105263158/(0.392232270 + 1e-8) = 0.268369421
//                             wd 0:   p = 0.900000002 - 0.0268369421               = 0.873163058
//                             wd 0.1: p = 0.890000002 - 0.1*(0.268369421 + 0.089) = 0.854263058
#include <cmath>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

struct State1 {
  std::vector<float> p{1.f}, g{0.f}, m{0.f}, v{0.f};
  void step(float grad, float grad_scale, float wd, int step) {
    g[0] = grad;
    AdamWArgs a;
    a.lr = 0.1f;
    a.beta1 = 0.9f;
    a.beta2 = 0.95f;
    a.eps = 1e-8f;
    a.weight_decay = wd;
    a.grad_scale = grad_scale;
    a.step = step;
    cpu_ops().adamw_update(view(p, {1}), Tensor{}, view(g, {1}), view(m, {1}), view(v, {1}), a, Stream::host());
  }
};

constexpr double kF32Tol = 2e-7;  // a few fp32 ulps at magnitude ~1

TEST(AdamW, OneStepHandComputed) {
  State1 s;
  s.step(0.5f, 1.f, 0.f, 1);
  EXPECT_NEAR(s.m[0], 0.05, kF32Tol);
  EXPECT_NEAR(s.v[0], 0.0125, kF32Tol);
  EXPECT_NEAR(s.p[0], 0.900000002, kF32Tol);
}

TEST(AdamW, TwoStepsHandComputedWithGradScale) {
  State1 s;
  s.step(0.5f, 1.f, 0.f, 1);
  s.step(-0.5f, 0.5f, 0.f, 2);  // effective gradient -0.25
  EXPECT_NEAR(s.m[0], 0.02, kF32Tol);
  EXPECT_NEAR(s.v[0], 0.015, kF32Tol);
  EXPECT_NEAR(s.p[0], 0.8731630578758274, kF32Tol);
}

TEST(AdamW, WeightDecayZeroVersusPositive) {
  State1 no_wd, wd;
  no_wd.step(0.5f, 1.f, 0.f, 1);
  wd.step(0.5f, 1.f, 0.1f, 1);
  EXPECT_NEAR(wd.p[0], 0.890000002, kF32Tol);
  EXPECT_NEAR(no_wd.p[0] - wd.p[0], 0.1 * 0.1 * 1.0, kF32Tol) << "decoupled decay: lr * wd * p";
  EXPECT_EQ(no_wd.m[0], wd.m[0]) << "decay must not touch the moments";
  EXPECT_EQ(no_wd.v[0], wd.v[0]);
  no_wd.step(-0.5f, 0.5f, 0.f, 2);
  wd.step(-0.5f, 0.5f, 0.1f, 2);
  EXPECT_NEAR(no_wd.p[0], 0.8731630578758274, kF32Tol);
  EXPECT_NEAR(wd.p[0], 0.8542630578558273, kF32Tol);

  // Zero gradient: only the decay acts, p *= (1 - lr * wd).
  State1 z;
  z.p[0] = 2.f;
  z.step(0.f, 1.f, 0.1f, 1);
  EXPECT_NEAR(z.p[0], 2.0 * (1.0 - 0.01), kF32Tol * 2);
}

TEST(AdamW, Fp64StateMatchesHandValuesTightly) {
  std::vector<double> p = {1.0}, g = {0.5}, m = {0.0}, v = {0.0};
  AdamWArgs a;
  a.lr = 0.1f;  // the args are fp32: the expected value uses the same fp32 constants
  a.beta1 = 0.9f;
  a.beta2 = 0.95f;
  a.eps = 1e-8f;
  a.step = 1;
  cpu_ops().adamw_update(view(p, {1}), Tensor{}, view(g, {1}), view(m, {1}), view(v, {1}), a, Stream::host());
  const double lr = double(0.1f), b1 = double(0.9f), b2 = double(0.95f), eps = double(1e-8f);
  const double mm = (1 - b1) * 0.5, vv = (1 - b2) * 0.25;
  const double want = 1.0 - lr * ((mm / (1 - b1)) / (std::sqrt(vv / (1 - b2)) + eps));
  EXPECT_NEAR(p[0], want, 1e-15);
  EXPECT_NEAR(p[0], 0.900000002, 1e-8);  // the hand value, to the precision of fp32 constants
}

TEST(AdamW, VectorMatchesFormulaInDouble) {
  const int64_t n = 50000;  // above the 2^15 threshold, so the OpenMP loop is the one tested
  std::vector<float> p = convert<float>(randn(n, 70)), g = convert<float>(randn(n, 71, 0.1));
  std::vector<float> m = convert<float>(randn(n, 72, 0.01)), v(static_cast<size_t>(n));
  const std::vector<double> vd = randn(n, 73, 1e-3);
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(vd[size_t(i)] * vd[size_t(i)]);  // v >= 0
  const std::vector<float> p0 = p, m0 = m, v0 = v;
  AdamWArgs a;
  a.lr = 3e-3f;
  a.weight_decay = 0.1f;
  a.grad_scale = 0.7f;
  a.step = 7;
  cpu_ops().adamw_update(view(p, {n}), Tensor{}, view(g, {n}), view(m, {n}), view(v, {n}), a, Stream::host());
  std::vector<double> want_p(static_cast<size_t>(n)), want_m(static_cast<size_t>(n)), want_v(static_cast<size_t>(n));
  const double b1 = a.beta1, b2 = a.beta2;
  for (size_t i = 0; i < size_t(n); ++i) {
    const double gi = double(g[i]) * a.grad_scale;
    want_m[i] = b1 * m0[i] + (1 - b1) * gi;
    want_v[i] = b2 * v0[i] + (1 - b2) * gi * gi;
    const double mhat = want_m[i] / (1 - std::pow(b1, 7)), vhat = want_v[i] / (1 - std::pow(b2, 7));
    want_p[i] = p0[i] - double(a.lr) * (mhat / (std::sqrt(vhat) + double(a.eps)) + double(a.weight_decay) * p0[i]);
  }
  EXPECT_LT(rel_err(m, want_m), 1e-6);
  EXPECT_LT(rel_err(v, want_v), 1e-6);
  EXPECT_LT(rel_err(p, want_p), 1e-6);
}

TEST(AdamW, ComputeCopyRefreshedFromMaster) {
  const int64_t n = 64;
  std::vector<float> g = convert<float>(randn(n, 80)), m(size_t(n), 0.f), v(size_t(n), 0.f);
  AdamWArgs a;
  a.lr = 0.01f;
  a.step = 1;
  {
    std::vector<float> p = convert<float>(randn(n, 81));
    std::vector<bf16> compute(static_cast<size_t>(n));
    cpu_ops().adamw_update(view(p, {n}), view(compute, {n}), view(g, {n}), view(m, {n}), view(v, {n}), a,
                           Stream::host());
    for (size_t i = 0; i < size_t(n); ++i) EXPECT_EQ(compute[i].bits, bf16(p[i]).bits) << "bf16 copy " << i;
  }
  {
    std::fill(m.begin(), m.end(), 0.f);
    std::fill(v.begin(), v.end(), 0.f);
    std::vector<float> p = convert<float>(randn(n, 82));
    std::vector<fp16> compute(static_cast<size_t>(n));
    cpu_ops().adamw_update(view(p, {n}), view(compute, {n}), view(g, {n}), view(m, {n}), view(v, {n}), a,
                           Stream::host());
    for (size_t i = 0; i < size_t(n); ++i) EXPECT_EQ(compute[i].bits, fp16(p[i]).bits) << "fp16 copy " << i;
  }
}

}  // namespace
}  // namespace kernels::test
