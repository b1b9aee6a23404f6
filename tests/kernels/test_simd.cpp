// tests/kernels/test_simd.cpp
// The vectorised fp32 kernels (kernels/cpu/simd) and the blocked attention against the fp64
// references of kernels/cpu/*.h, on every SIMD level this CPU runs: baseline (SSE2), avx2, avx512,
// and "w16_on_avx2" (the avx512 table's algorithm compiled for AVX2, simd_w16_on_avx2.cpp). A level
// the CPU lacks is reported as skipped, not passed. Each test asserts the error bound stated next
// to the kernel (kernels/cpu/simd/table.h collects them) and prints the worst error it saw.
// Also: results are bit-identical run to run and under 1 or 2 threads; KILN_CPU_ISA parsing.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/adamw.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_blocked.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/simd/isa.h"
#include "kernels/cpu/simd/table.h"
#include "kernels/cpu/softmax_xent.h"
#include "tests/kernels/kernel_test_util.h"

namespace kernels::cpu::simd::w16_on_avx2 {
extern const Kernels kKernels;
}

namespace kernels::test {
namespace {

namespace simd = cpu::simd;

// ---- the levels ------------------------------------------------------------------------------

struct Level {
  const char* name;
  const simd::Kernels* table;
  simd::Isa needs;  // what the CPU must support to run it
};

const Level kLevels[] = {
    {"baseline", &simd::for_isa(simd::Isa::kBaseline), simd::Isa::kBaseline},
    {"avx2", &simd::for_isa(simd::Isa::kAvx2), simd::Isa::kAvx2},
    {"avx512", &simd::for_isa(simd::Isa::kAvx512), simd::Isa::kAvx512},
    {"w16_on_avx2", &simd::w16_on_avx2::kKernels, simd::Isa::kAvx2},
};

class SimdLevel : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    level_ = kLevels[GetParam()];
    if (!simd::isa_supported(level_.needs))
      GTEST_SKIP() << "this CPU does not run " << simd::isa_name(level_.needs) << ": level " << level_.name
                   << " not tested here";
  }
  const simd::Kernels& K() const { return *level_.table; }
  Level level_{};
};

std::string level_name(const ::testing::TestParamInfo<int>& info) { return kLevels[info.param].name; }

// Worst ratio err / allowed over a run, with the element that produced it, printed for the report.
struct Worst {
  const char* what;
  double ratio = 0, err = 0, at = 0;
  void add(double err_i, double allowed_i, double at_i) {
    const double r = allowed_i > 0 ? err_i / allowed_i : (err_i > 0 ? INFINITY : 0);
    if (!(r <= ratio)) {  // NaN counts as worst
      ratio = r;
      err = err_i;
      at = at_i;
    }
  }
  void check(const std::string& level) const {
    std::printf("[simd %-11s] %-28s worst error %.3e at %.6g (%.2f of its bound)\n", level.c_str(), what, err, at,
                ratio);
    EXPECT_LE(ratio, 1.0) << what << ": error " << err << " at " << at << " exceeds its bound";
  }
};

std::vector<float> floats(int64_t n, float fill = 0.f) { return std::vector<float>(size_t(n), fill); }
std::vector<double> doubles(int64_t n) { return std::vector<double>(size_t(n), 0.0); }
std::vector<int32_t> ints(int64_t n) { return std::vector<int32_t>(size_t(n), 0); }

// n values in [lo, hi], evenly spaced, as float.
std::vector<float> sweep(double lo, double hi, int64_t n) {
  std::vector<float> v = floats(n);
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(lo + (hi - lo) * double(i) / double(n - 1));
  return v;
}

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

// ---- attention --------------------------------------------------------------------------------

TEST_P(SimdLevel, TileGemmAndTransposeMatchDouble) {
  const int64_t M = 13, N = 37, Kd = 19;  // nothing a multiple of the register tile
  const std::vector<float> A = convert<float>(randn(M * Kd, 350)), B = convert<float>(randn(Kd * N, 351));
  std::vector<float> C = floats(M * N), Ct = floats(M * N, 1.f);
  K().tile_gemm(M, N, Kd, A.data(), Kd, 1, B.data(), N, C.data(), N, false);
  // A transposed view: A^T (Kd x M) stored, read as A(i,k) = At[k * M + i].
  std::vector<float> At = floats(M * Kd);
  K().transpose(At.data(), M, A.data(), Kd, M, Kd);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < Kd; ++k) ASSERT_EQ(At[size_t(k * M + i)], A[size_t(i * Kd + k)]) << "transpose";
  K().tile_gemm(M, N, Kd, At.data(), 1, M, B.data(), N, Ct.data(), N, true);  // accumulate onto ones
  Worst w{"tile_gemm (vs fp64)"};
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double want = 0, scale = 0;
      for (int64_t k = 0; k < Kd; ++k) {
        want += double(A[size_t(i * Kd + k)]) * double(B[size_t(k * N + j)]);
        scale += std::fabs(double(A[size_t(i * Kd + k)]) * double(B[size_t(k * N + j)]));
      }
      w.add(std::fabs(C[size_t(i * N + j)] - want), 1e-6 * scale, double(i * N + j));
      EXPECT_EQ(Ct[size_t(i * N + j)], 1.f + C[size_t(i * N + j)]) << "same sums through the transposed view";
    }
  w.check(level_.name);
}

// kiln's sgemm (the model's products) against an fp64 product: every transpose pair, alpha and
// beta, edges in M, N and K (not multiples of the register tile or of the K block), two K blocks.
TEST_P(SimdLevel, SgemmMatchesDouble) {
  struct Case {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
  };
  std::vector<float> work = floats(simd::kGemmWorkspaceFloats);
  for (const Case c : {Case{false, true, 67, 45, 130, 1.f, 0.f}, Case{false, false, 31, 70, 600, 1.f, 1.f},
                       Case{true, false, 50, 33, 1100, 1.f, 1.f}, Case{true, true, 13, 9, 7, 0.5f, 0.25f},
                       Case{false, true, 1, 1, 1, 1.f, 0.f}, Case{false, true, 200, 4200, 3, 1.f, 0.f}}) {
    const int64_t lda = c.ta ? c.M + 3 : c.K + 5, ldb = c.tb ? c.K + 2 : c.N + 1, ldc = c.N + 4;  // padded rows
    const std::vector<float> A = convert<float>(randn((c.ta ? c.K : c.M) * lda, 400)),
                             B = convert<float>(randn((c.tb ? c.N : c.K) * ldb, 401));
    const std::vector<float> C0 = convert<float>(randn(c.M * ldc, 402));
    std::vector<float> C = C0;
    K().sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc, work.data());
    Worst w{"sgemm (vs fp64)"};
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < ldc; ++j) {
        if (j >= c.N) {  // the padding of C's rows is not touched
          ASSERT_EQ(C[size_t(i * ldc + j)], C0[size_t(i * ldc + j)]) << "wrote past column N";
          continue;
        }
        double want = 0, scale = std::fabs(double(c.beta) * C0[size_t(i * ldc + j)]);
        for (int64_t k = 0; k < c.K; ++k) {
          const double a = c.ta ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)];
          const double b = c.tb ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
          want += a * b;
          scale += std::fabs(c.alpha * a * b);
        }
        want = c.alpha * want + double(c.beta) * C0[size_t(i * ldc + j)];
        w.add(std::fabs(C[size_t(i * ldc + j)] - want), simd::kSgemmMaxRelError * scale, double(i * c.N + j));
      }
    w.check(level_.name);
  }
}

struct AttnShape {
  int64_t B, T, C, NH;
};

TEST_P(SimdLevel, BlockedAttentionMatchesReference) {
  // T not a multiple of the tile (32) or of any width; hs 16, 32 and 64.
  for (const AttnShape s : {AttnShape{2, 70, 64, 4}, AttnShape{1, 128, 128, 4}, AttnShape{1, 45, 128, 2}}) {
    const int64_t B = s.B, T = s.T, C = s.C, NH = s.NH;
    const std::vector<float> qkv = convert<float>(randn(B * T * 3 * C, 360, 1.5)),
                             dout = convert<float>(randn(B * T * C, 361));
    std::vector<float> out = floats(B * T * C), lse = floats(B * NH * T), dqkv = floats(B * T * 3 * C, 9.f);
    cpu::attention_forward_blocked(K(), out.data(), lse.data(), qkv.data(), B, T, C, NH);
    cpu::attention_backward_blocked(K(), dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH);
    const std::vector<double> qkv64 = convert<double>(qkv), dout64 = convert<double>(dout);
    std::vector<double> out64(out.size()), lse64(lse.size()), dqkv64(dqkv.size());
    cpu::attention_forward_ref<double>(out64.data(), lse64.data(), qkv64.data(), B, T, C, NH);
    cpu::attention_backward_ref<double>(dqkv64.data(), dout64.data(), qkv64.data(), out64.data(), lse64.data(), B, T, C,
                                        NH);
    for (auto [name, err] :
         {std::pair{"attention out", rel_err(out, out64)}, std::pair{"attention lse", rel_err(lse, lse64)},
          std::pair{"attention dqkv", rel_err(dqkv, dqkv64)}}) {
      Worst w{name};
      w.add(err, simd::kAttentionMaxRelError, double(T));
      w.check(level_.name);
    }
  }
}

TEST_P(SimdLevel, CachedAttentionMatchesReference) {
  const int64_t T = 75, C = 64, NH = 2, maxT = 80;
  const std::vector<float> qkv = convert<float>(randn(T * 3 * C, 370, 1.5));
  std::vector<double> want_out = doubles(T * C), want_lse = doubles(NH * T);
  const std::vector<double> qkv64 = convert<double>(qkv);
  cpu::attention_forward_ref<double>(want_out.data(), want_lse.data(), qkv64.data(), 1, T, C, NH);
  // A prompt of 40 tokens, then one token per call, as generation does.
  std::vector<float> kc = floats(maxT * C, 5.f), vc = floats(maxT * C, 5.f), got = floats(T * C);
  for (int64_t pos = 0; pos < T;) {
    const int64_t n = pos == 0 ? 40 : 1;
    cpu::attention_cached_forward_blocked(K(), got.data() + pos * C, qkv.data() + pos * 3 * C, kc.data(), vc.data(),
                                          pos, n, C, NH);
    pos += n;
  }
  Worst w{"cached attention out"};
  w.add(rel_err(got, want_out), simd::kAttentionMaxRelError, double(T));
  w.check(level_.name);
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
    cpu::attention_forward_blocked(K(), r[9].data(), r[10].data(), qkv.data(), B, T, C, NH);
    r[11].resize(size_t(B * T * 3 * C));
    cpu::attention_backward_blocked(K(), r[11].data(), ad.data(), qkv.data(), r[9].data(), r[10].data(), B, T, C, NH);
    r.push_back({float(K().sum_squares(x.data(), n))});
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

TEST(CpuGemm, ChoiceFollowsLevelAndK) {
  EXPECT_EQ(cpu::parse_gemm_choice(nullptr), cpu::GemmChoice::kAuto);
  EXPECT_EQ(cpu::parse_gemm_choice("kiln"), cpu::GemmChoice::kKiln);
  EXPECT_EQ(cpu::parse_gemm_choice("blas"), cpu::GemmChoice::kBlas);
  try {
    cpu::parse_gemm_choice("mkl");
    ADD_FAILURE() << "an unknown choice was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("KILN_CPU_GEMM=mkl"), std::string::npos) << e.what();
  }
  if (std::getenv("KILN_CPU_GEMM") != nullptr) GTEST_SKIP() << "KILN_CPU_GEMM is set: the automatic choice is off";
  const simd::Isa saved = simd::active_isa();
  simd::set_active_isa(simd::Isa::kBaseline);
  EXPECT_FALSE(cpu::fp32_gemm_is_kilns(128));
  if (simd::isa_supported(simd::Isa::kAvx2)) {
    simd::set_active_isa(simd::Isa::kAvx2);
    EXPECT_TRUE(cpu::fp32_gemm_is_kilns(512));
    EXPECT_FALSE(cpu::fp32_gemm_is_kilns(513));
  }
  if (simd::isa_supported(simd::Isa::kAvx512)) {
    simd::set_active_isa(simd::Isa::kAvx512);
    EXPECT_TRUE(cpu::fp32_gemm_is_kilns(3072));
  }
  simd::set_active_isa(saved);
}

// gemm() splits a product over the threads by rows or columns, never K. With kiln's sgemm each C
// element is the same FMA chain wherever its block starts, so 1 and 2 threads agree bit for bit;
// OpenBLAS's edge kernels may round a block's last rows differently, so there (K > 512 at avx2)
// only a repeat under the same thread count is bit-identical.
TEST(CpuGemm, BitIdenticalUnderAnyThreadCountWithKilnsSgemm) {
  for (int64_t K : {int64_t(128), int64_t(768)}) {
    const int64_t M = 1000, N = 300;
    const std::vector<float> A = convert<float>(randn(M * K, 420)), B = convert<float>(randn(N * K, 421));
    std::vector<float> one = floats(M * N), two = floats(M * N), again = floats(M * N);
    omp_set_num_threads(1);
    cpu::gemm(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, one.data(), N);
    omp_set_num_threads(2);
    cpu::gemm(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, two.data(), N);
    cpu::gemm(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, again.data(), N);
    if (cpu::fp32_gemm_is_kilns(K)) {
      EXPECT_EQ(one, two) << "K " << K;
    }
    EXPECT_EQ(two, again) << "K " << K;
  }
}

// The matmul op gives the same numbers through either code path, within the products' rounding.
TEST(CpuGemm, MatmulOpMatchesDoubleAtEveryLevel) {
  const int64_t N = 96, IC = 700, OC = 50;  // IC > 512: OpenBLAS at avx2; both paths run below
  const std::vector<double> x64 = randn(N * IC, 410), w64 = randn(OC * IC, 411);
  std::vector<double> want = doubles(N * OC), xd = x64, wd = w64;
  cpu::matmul_forward_ref<double>(want.data(), xd.data(), wd.data(), nullptr, N, IC, OC);
  const simd::Isa saved = simd::active_isa();
  for (int i = 0; i < simd::kIsaCount; ++i) {
    if (!simd::isa_supported(simd::Isa(i))) continue;
    simd::set_active_isa(simd::Isa(i));
    for (int64_t ic : {IC, int64_t(300)}) {
      std::vector<float> x = convert<float>(std::vector<double>(x64.begin(), x64.begin() + N * ic));
      std::vector<float> w(size_t(OC * ic)), y = floats(N * OC);
      for (int64_t o = 0; o < OC; ++o)
        for (int64_t k = 0; k < ic; ++k) w[size_t(o * ic + k)] = float(w64[size_t(o * IC + k)]);
      std::vector<double> want_ic = doubles(N * OC), xdi = convert<double>(x), wdi = convert<double>(w);
      cpu::matmul_forward_ref<double>(want_ic.data(), xdi.data(), wdi.data(), nullptr, N, ic, OC);
      cpu_ops().matmul_forward(view(y, {N, OC}), view(x, {N, ic}), view(w, {OC, ic}), Tensor{}, Stream::host());
      EXPECT_LT(rel_err(y, want_ic), 1e-6) << simd::isa_name(simd::Isa(i)) << " IC " << ic;
    }
  }
  simd::set_active_isa(saved);
}

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

// The op table follows the active level: each supported level, forced in turn, runs GELU through
// kernels::cpu::kOps and gets that level's table's result.
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
  }
  simd::set_active_isa(saved);
}

}  // namespace
}  // namespace kernels::test
