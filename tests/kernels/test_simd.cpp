// tests/kernels/test_simd.cpp
// The vectorised fp32 elementwise and row kernels (kernels/cpu/simd) against the fp64 references of
// kernels/cpu/*.h, on every SIMD level this CPU runs (simd_test_levels.h): each test asserts the
// error bound kernels/cpu/simd/table.h states for the kernel and prints the worst error it saw.
// Also: every kernel bit-identical under 1 and 2 threads and run to run; KILN_CPU_ISA parsing; the
// op table follows the active level. Products and attention: test_simd_products.cpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cpu/adamw.h"
#include "kernels/cpu/attention_blocked.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/swiglu.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/softmax_xent.h"
#include "tests/kernels/simd_test_levels.h"

namespace kernels::test {
namespace {

// ---- elementwise ------------------------------------------------------------------------------

TEST_P(SimdLevel, ExpWithinItsBound) {
  std::vector<float> x = sweep(-88.0, 88.72, 400001);
  for (float s : {0.f, -0.f, 1e-30f, -1e-30f, 88.7228f, -86.6f, -86.99f, -87.3f}) x.push_back(s);
  std::vector<float> y(x.size());
  K().exp(y.data(), x.data(), int64_t(x.size()));
  Worst rel{"exp (relative)"}, abs{"exp (absolute, far left)"};
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(double(x[i]));
    if (x[i] >= simd::kExpRelDomainLo)
      rel.add(std::fabs(y[i] - want) / want, simd::kExpMaxRelError, x[i]);
    else
      abs.add(std::fabs(y[i] - want), simd::kExpMaxAbsErrorBelow, x[i]);
  }
  rel.check(level_.name);
  abs.check(level_.name);
  // The special values the softmax and GELU rely on.
  std::vector<float> s = {-INFINITY, INFINITY, NAN, -1000.f, 1000.f, 89.5f}, e(s.size());
  K().exp(e.data(), s.data(), int64_t(s.size()));
  EXPECT_EQ(e[0], 0.f);
  EXPECT_EQ(e[1], INFINITY);
  EXPECT_TRUE(std::isnan(e[2]));
  EXPECT_EQ(e[3], 0.f);
  EXPECT_EQ(e[4], INFINITY);
  EXPECT_EQ(e[5], INFINITY);
}

TEST_P(SimdLevel, GeluForwardWithinItsBound) {
  std::vector<float> x = sweep(-12.0, 12.0, 240001);
  for (float s : {-40.f, -1e4f, 40.f, 1e4f, 0.f, -0.f}) x.push_back(s);
  std::vector<float> y(x.size());
  K().gelu_forward(y.data(), x.data(), int64_t(x.size()));
  const std::vector<double> x64 = convert<double>(x);
  std::vector<double> want(x.size());
  cpu::gelu_forward_ref<double>(want.data(), x64.data(), int64_t(x.size()));
  Worst w{"gelu forward"};
  for (size_t i = 0; i < x.size(); ++i)
    w.add(std::fabs(y[i] - want[i]), simd::kGeluMaxErrorPerX * std::fabs(x64[i]) + 1e-37, x64[i]);
  w.check(level_.name);
  EXPECT_EQ(y[y.size() - 2], 0.f);
}

TEST_P(SimdLevel, GeluBackwardWithinItsBound) {
  std::vector<float> x = sweep(-12.0, 12.0, 240001);
  for (float s : {-40.f, -1e4f, 40.f, 1e4f}) x.push_back(s);
  const int64_t n = int64_t(x.size());
  std::vector<float> dout = convert<float>(randn(n, 300)), dinp(x.size());
  K().gelu_backward(dinp.data(), dout.data(), x.data(), n);
  const std::vector<double> x64 = convert<double>(x), d64 = convert<double>(dout);
  std::vector<double> want(x.size());
  cpu::gelu_backward_ref<double>(want.data(), d64.data(), x64.data(), n);
  Worst w{"gelu backward"};
  for (size_t i = 0; i < x.size(); ++i)
    w.add(std::fabs(dinp[i] - want[i]),
          simd::kGeluGradMaxErrorPerX * (1 + std::fabs(x64[i])) * std::fabs(d64[i]) + 1e-37, x64[i]);
  w.check(level_.name);
  // In place (dinp aliases dout), as the model calls it.
  std::vector<float> inplace = dout;
  K().gelu_backward(inplace.data(), inplace.data(), x.data(), n);
  EXPECT_EQ(inplace, dinp);
}

// SwiGLU rows against the fp64 reference: gate swept over [-100, 100] (both exp tails, the
// cancellation of silu' near g = -1.28), up and dout random; F not a multiple of any width.
TEST_P(SimdLevel, SwigluWithinItsBound) {
  const int64_t F = 1001, N = 201;  // N * F gates
  const std::vector<float> g = sweep(-100.0, 100.0, N * F);
  const std::vector<float> up = convert<float>(randn(N * F, 302)), dout = convert<float>(randn(N * F, 303));
  std::vector<float> inp = floats(N * 2 * F);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t f = 0; f < F; ++f) {
      inp[size_t(r * 2 * F + f)] = g[size_t(r * F + f)];
      inp[size_t(r * 2 * F + F + f)] = up[size_t(r * F + f)];
    }
  std::vector<float> out = floats(N * F), dinp = floats(N * 2 * F, 7.f);
  K().swiglu_forward(out.data(), inp.data(), N, F);
  K().swiglu_backward(dinp.data(), dout.data(), inp.data(), N, F);
  const std::vector<double> inp64 = convert<double>(inp), dout64 = convert<double>(dout);
  std::vector<double> out64 = doubles(N * F), dinp64 = doubles(N * 2 * F);
  cpu::swiglu_forward_ref<double>(out64.data(), inp64.data(), N, F);
  cpu::swiglu_backward_ref<double>(dinp64.data(), dout64.data(), inp64.data(), N, F);
  Worst wo{"swiglu out"}, wg{"swiglu dgate"}, wu{"swiglu dup"};
  for (int64_t r = 0; r < N; ++r)
    for (int64_t f = 0; f < F; ++f) {
      const size_t i = size_t(r * F + f), ig = size_t(r * 2 * F + f), iu = ig + size_t(F);
      const double x = inp64[ig], u = inp64[iu], d = dout64[i], s = 1 / (1 + std::exp(-x));
      wo.add(std::fabs(out[i] - out64[i]), simd::kSwigluMaxRelError * std::fabs(out64[i]) + 1e-37 * std::fabs(x * u),
             x);
      wg.add(std::fabs(dinp[ig] - dinp64[ig]),
             simd::kSwigluGradMaxRelError * std::fabs(d * u) * s * (1 + std::fabs(x) * (1 - s)) +
                 1e-37 * std::fabs(d * u) * (1 + std::fabs(x)),
             x);
      wu.add(std::fabs(dinp[iu] - dinp64[iu]),
             simd::kSwigluGradMaxRelError * std::fabs(d * x) * s + 1e-37 * std::fabs(d * x), x);
    }
  wo.check(level_.name);
  wg.check(level_.name);
  wu.check(level_.name);
  // In place (dinp aliases inp), as the model may call it.
  std::vector<float> inplace = inp;
  K().swiglu_backward(inplace.data(), dout.data(), inplace.data(), N, F);
  EXPECT_EQ(inplace, dinp);
}

TEST_P(SimdLevel, AdamWStepWithinItsBound) {
  const int64_t n = 1003;  // not a multiple of any width: the tail runs too
  const std::vector<double> p0 = randn(n, 310), g0 = randn(n, 311), m0 = randn(n, 312, 0.1), r = randn(n, 313);
  std::vector<double> v0_pos(r.size());  // second moments are positive
  for (size_t i = 0; i < r.size(); ++i) v0_pos[i] = 0.01 + 0.01 * std::fabs(r[i]);
  AdamWArgs args;
  args.lr = 1e-3f;
  args.weight_decay = 0.1f;
  args.grad_scale = 0.5f;
  args.step = 7;
  std::vector<float> p = convert<float>(p0), g = convert<float>(g0), m = convert<float>(m0), v = convert<float>(v0_pos);
  const simd::AdamWScalars a{args.lr,
                             args.beta1,
                             args.beta2,
                             args.eps,
                             args.weight_decay,
                             args.grad_scale,
                             1.0f - std::pow(args.beta1, float(args.step)),
                             1.0f - std::pow(args.beta2, float(args.step))};
  K().adamw_update(p.data(), g.data(), m.data(), v.data(), n, a);
  std::vector<double> p64 = convert<double>(convert<float>(p0)), m64 = convert<double>(convert<float>(m0)),
                      v64 = convert<double>(convert<float>(v0_pos));
  const std::vector<double> g64 = convert<double>(convert<float>(g0));
  cpu::adamw_update_ref<double>(p64.data(), g64.data(), m64.data(), v64.data(), n, args);
  // Each result against the size of the terms it is made of (m and v can cancel to near zero).
  const float gs = args.grad_scale, b1 = args.beta1, b2 = args.beta2;
  Worst wp{"adamw param"}, wm{"adamw m"}, wv{"adamw v"};
  for (size_t i = 0; i < size_t(n); ++i) {
    const double g = g64[i] * gs, m_terms = b1 * std::fabs(m0[i]) + (1 - b1) * std::fabs(g);
    const double v_terms = b2 * v0_pos[i] + (1 - b2) * g * g;
    const double step = args.lr * (m_terms / a.bias_correction1 / (std::sqrt(v64[i] / a.bias_correction2) + args.eps) +
                                   args.weight_decay * std::fabs(p0[i]));
    wp.add(std::fabs(p[i] - p64[i]), simd::kAdamWMaxRelError * (std::fabs(p0[i]) + step), p64[i]);
    wm.add(std::fabs(m[i] - m64[i]), simd::kAdamWMaxRelError * m_terms, m64[i]);
    wv.add(std::fabs(v[i] - v64[i]), simd::kAdamWMaxRelError * v_terms, v64[i]);
  }
  wp.check(level_.name);
  wm.check(level_.name);
  wv.check(level_.name);
}

TEST_P(SimdLevel, SumSquaresWithinItsBound) {
  for (int64_t n : {int64_t(1), int64_t(37), int64_t(100003)}) {  // one block, a tail, several blocks
    const std::vector<float> x = convert<float>(randn(n, 320 + uint64_t(n), 3.0));
    const double got = K().sum_squares(x.data(), n);
    const double want = cpu::sum_squares_ref<float>(x.data(), n);
    Worst w{"sum_squares"};
    w.add(std::fabs(got - want), simd::kSumSquaresMaxRelError * want, double(n));
    w.check(level_.name);
  }
}

// ---- rows -------------------------------------------------------------------------------------

TEST_P(SimdLevel, LayernormWithinItsBound) {
  for (int64_t C : {int64_t(128), int64_t(768), int64_t(100)}) {
    const int64_t N = 37;
    // Rows offset by 100: the two-pass variance must not cancel.
    const std::vector<float> x = convert<float>(randn(N * C, 330, 2.0, 100.0)), w = convert<float>(randn(C, 331)),
                             b = convert<float>(randn(C, 332)), dout = convert<float>(randn(N * C, 333));
    std::vector<float> out = floats(N * C), mean = floats(N), rstd = floats(N);
    K().layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    std::vector<float> dx = convert<float>(randn(N * C, 334)), dw = convert<float>(randn(C, 335)),
                       db = convert<float>(randn(C, 336));
    const std::vector<double> dx0 = convert<double>(dx), dw0 = convert<double>(dw), db0 = convert<double>(db);
    K().layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(), rstd.data(),
                           N, C);

    const std::vector<double> x64 = convert<double>(x), w64 = convert<double>(w), b64 = convert<double>(b),
                              d64 = convert<double>(dout);
    std::vector<double> out64 = doubles(N * C), mean64 = doubles(N), rstd64 = doubles(N);
    cpu::layernorm_forward_ref<double>(out64.data(), mean64.data(), rstd64.data(), x64.data(), w64.data(), b64.data(),
                                       N, C);
    std::vector<double> dx64 = dx0, dw64 = dw0, db64 = db0;
    cpu::layernorm_backward_ref<double>(dx64.data(), dw64.data(), db64.data(), d64.data(), x64.data(), w64.data(),
                                        mean64.data(), rstd64.data(), N, C);
    // Scales: an output element's size is |w| |xhat| + |b| <= |w| * sqrt(C) + |b|; gradients are
    // compared per tensor in the norm (rel_err), the sums over rows being the long ones.
    Worst wo{"layernorm out"}, wr{"layernorm rstd"};
    for (int64_t i = 0; i < N * C; ++i) {
      const double scale = std::fabs(w64[size_t(i % C)]) * 3.0 + std::fabs(b64[size_t(i % C)]) + 1.0;
      wo.add(std::fabs(out[size_t(i)] - out64[size_t(i)]), simd::kLayernormMaxError * scale, double(i));
    }
    for (int64_t n = 0; n < N; ++n)
      wr.add(std::fabs(rstd[size_t(n)] - rstd64[size_t(n)]), simd::kLayernormMaxError * rstd64[size_t(n)], double(n));
    wo.check(level_.name);
    wr.check(level_.name);
    for (auto [name, got, want] : {std::tuple{"layernorm dx", &dx, &dx64}, std::tuple{"layernorm dweight", &dw, &dw64},
                                   std::tuple{"layernorm dbias", &db, &db64}}) {
      Worst wg{name};
      wg.add(rel_err(*got, *want), simd::kLayernormGradMaxRelError, double(C));
      wg.check(level_.name);
    }
  }
}

TEST_P(SimdLevel, SoftmaxXentWithinItsBound) {
  struct Case {
    int64_t N, V, Vr;
  };
  for (const Case c : {Case{16, 256, 256}, Case{9, 250, 243}, Case{3, 50304, 50257}}) {
    std::vector<double> logits64 = randn(c.N * c.V, 340 + uint64_t(c.V), 3.0, 5.0);
    std::vector<int32_t> targets = ints(c.N);
    for (int64_t n = 0; n < c.N; ++n) targets[size_t(n)] = int32_t((n * 7919) % c.Vr);
    targets[1] = -1;  // an ignored position
    const std::vector<float> logits = convert<float>(logits64);
    logits64 = convert<double>(logits);
    const float dloss = 1.0f / float(c.N);
    std::vector<float> losses = floats(c.N), dlogits = floats(c.N * c.V, 7.f), only_losses = floats(c.N);
    K().softmax_xent(losses.data(), dlogits.data(), logits.data(), targets.data(), c.N, c.V, c.Vr, dloss);
    K().softmax_xent(only_losses.data(), nullptr, logits.data(), targets.data(), c.N, c.V, c.Vr, dloss);
    std::vector<double> losses64 = doubles(c.N), dlogits64 = doubles(c.N * c.V);
    cpu::softmax_xent_ref<double>(losses64.data(), dlogits64.data(), logits64.data(), targets.data(), c.N, c.V, c.Vr,
                                  double(dloss));
    Worst wl{"softmax_xent loss"}, wd{"softmax_xent dlogits"};
    for (int64_t n = 0; n < c.N; ++n) {
      wl.add(std::fabs(losses[size_t(n)] - losses64[size_t(n)]), simd::kXentMaxError * (1 + losses64[size_t(n)]),
             double(n));
      EXPECT_EQ(only_losses[size_t(n)], losses[size_t(n)])
          << "the loss must not depend on whether dlogits is asked for";
    }
    for (int64_t i = 0; i < c.N * c.V; ++i)
      wd.add(std::fabs(dlogits[size_t(i)] - dlogits64[size_t(i)]), simd::kXentMaxError * dloss, double(i));
    wl.check(level_.name);
    wd.check(level_.name);
    for (int64_t col = c.Vr; col < c.V; ++col) EXPECT_EQ(dlogits[size_t(col)], 0.f) << "padding column " << col;
    EXPECT_EQ(losses[1], 0.f);
    for (int64_t col = 0; col < c.V; ++col) EXPECT_EQ(dlogits[size_t(c.V + col)], 0.f) << "ignored row";
    // In place (dlogits aliases logits), as the model calls it in backward.
    std::vector<float> inplace = logits, inplace_losses = floats(c.N);
    K().softmax_xent(inplace_losses.data(), inplace.data(), inplace.data(), targets.data(), c.N, c.V, c.Vr, dloss);
    EXPECT_EQ(inplace, dlogits);
  }
}

// Column sums keep the reference's row order: bit-identical to matmul_backward_ref's fp32 loop.
TEST_P(SimdLevel, ColumnSumsEqualTheReferenceBitForBit) {
  for (int64_t C : {int64_t(128), int64_t(771)}) {
    const int64_t N = 300;
    const std::vector<float> x = convert<float>(randn(N * C, 395)), start = convert<float>(randn(C, 396));
    std::vector<float> got = start, want = start;
    K().column_sums_add(got.data(), x.data(), N, C);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) want[size_t(c)] += x[size_t(n * C + c)];
    EXPECT_EQ(got, want) << "C " << C;
  }
}

// ---- determinism ------------------------------------------------------------------------------

// Every kernel of the table, on sizes large enough to go parallel, under 1 and 2 threads and twice
// under 2: all outputs equal bit for bit.
TEST_P(SimdLevel, BitIdenticalUnderAnyThreadCount) {
  const int64_t N = 512, C = 128, V = 256, n = N * C;
  const std::vector<float> x = convert<float>(randn(n, 380)), w = convert<float>(randn(C, 381)),
                           dout = convert<float>(randn(n, 382)), logits = convert<float>(randn(N * V, 383, 2.0));
  std::vector<int32_t> targets = ints(N);
  for (int64_t i = 0; i < N; ++i) targets[size_t(i)] = int32_t(i % V);
  const int64_t B = 4, T = 128, NH = 4;
  const cpu::AttentionGeometry heads(NH, NH, C / NH);
  const std::vector<float> qkv = convert<float>(randn(B * T * 3 * C, 384)), ad = convert<float>(randn(B * T * C, 385));
  auto run_all = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<std::vector<float>> r(12);
    r[0].resize(size_t(n));
    K().gelu_forward(r[0].data(), x.data(), n);
    r[1].resize(size_t(n));
    K().gelu_backward(r[1].data(), dout.data(), x.data(), n);
    r[2].resize(size_t(n));
    r[3].resize(size_t(N * 2));
    K().layernorm_forward(r[2].data(), r[3].data(), r[3].data() + N, x.data(), w.data(), w.data(), N, C);
    r[4].assign(size_t(n), 0.f);
    r[5].assign(size_t(2 * C), 0.f);
    K().layernorm_backward(r[4].data(), r[5].data(), r[5].data() + C, dout.data(), x.data(), w.data(), r[3].data(),
                           r[3].data() + N, N, C);
    r[6].resize(size_t(N));
    r[7].resize(size_t(N * V));
    K().softmax_xent(r[6].data(), r[7].data(), logits.data(), targets.data(), N, V, V, 0.01f);
    r[8] = x;
    std::vector<float> g = dout, m = floats(n, 0.f), v = floats(n, 0.f);
    K().adamw_update(r[8].data(), g.data(), m.data(), v.data(), n, {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.f, 0.1f, 0.05f});
    r[9].resize(size_t(B * T * C));
    r[10].resize(size_t(B * NH * T));
    cpu::attention_forward_blocked(K(), r[9].data(), r[10].data(), qkv.data(), B, T, heads);
    r[11].resize(size_t(B * T * 3 * C));
    cpu::attention_backward_blocked(K(), r[11].data(), ad.data(), qkv.data(), r[9].data(), r[10].data(), B, T, heads);
    r.push_back({float(K().sum_squares(x.data(), n))});
    r.emplace_back(size_t(N * V / 2));  // SwiGLU of logits' rows as [gate | up], dout from x (N x V/2)
    K().swiglu_forward(r.back().data(), logits.data(), N, V / 2);
    r.emplace_back(size_t(N * V));
    K().swiglu_backward(r.back().data(), x.data(), logits.data(), N, V / 2);
    omp_set_num_threads(2);
    return r;
  };
  const auto one = run_all(1), two = run_all(2), again = run_all(2);
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i], two[i]) << "output " << i << " differs between 1 and 2 threads";
    EXPECT_EQ(two[i], again[i]) << "output " << i << " differs between two runs";
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, SimdLevel, ::testing::Range(0, int(std::size(kLevels))), level_name);

// ---- dispatch ---------------------------------------------------------------------------------

TEST(SimdIsa, ParsesLevelNamesAndRefusesOthers) {
  EXPECT_EQ(simd::parse_isa(nullptr), simd::best_isa());
  EXPECT_EQ(simd::parse_isa("auto"), simd::best_isa());
  EXPECT_EQ(simd::parse_isa("baseline"), simd::Isa::kBaseline);
  try {
    simd::parse_isa("sse9");
    ADD_FAILURE() << "an unknown level was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("KILN_CPU_ISA=sse9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("baseline, avx2, avx512 or auto"), std::string::npos) << e.what();
  }
  for (simd::Isa isa : {simd::Isa::kAvx2, simd::Isa::kAvx512}) {
    if (simd::isa_supported(isa)) {
      EXPECT_EQ(simd::parse_isa(simd::isa_name(isa)), isa);
      continue;
    }
    try {
      simd::parse_isa(simd::isa_name(isa));
      ADD_FAILURE() << "an unsupported level was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("this CPU does not support"), std::string::npos) << e.what();
    }
  }
}

// The op table follows the active level: each supported level, forced in turn, runs GELU and SwiGLU
// through kernels::cpu::kOps and gets that level's table's result.
TEST(SimdIsa, OpsUseTheActiveLevel) {
  const simd::Isa saved = simd::active_isa();
  const int64_t n = 1000;
  std::vector<float> x = convert<float>(randn(n, 390, 3.0)), y = floats(n), want = floats(n);
  for (int i = 0; i < simd::kIsaCount; ++i) {
    const simd::Isa isa = simd::Isa(i);
    if (!simd::isa_supported(isa)) continue;
    simd::set_active_isa(isa);
    EXPECT_EQ(simd::active().isa, isa);
    cpu_ops().gelu_forward(view(y, {n}), view(x, {n}), Stream::host());
    simd::for_isa(isa).gelu_forward(want.data(), x.data(), n);
    EXPECT_EQ(y, want) << simd::isa_name(isa);
    std::vector<float> ys = floats(n / 2), wants = floats(n / 2);
    cpu_ops().swiglu_forward(view(ys, {1, n / 2}), view(x, {1, n}), Stream::host());
    simd::for_isa(isa).swiglu_forward(wants.data(), x.data(), 1, n / 2);
    EXPECT_EQ(ys, wants) << "swiglu " << simd::isa_name(isa);
  }
  simd::set_active_isa(saved);
}

}  // namespace
}  // namespace kernels::test
