// tests/kernels/test_simd_products.cpp
// The matrix products of the fp32 fast path against fp64, on every SIMD level this CPU runs
// (simd_test_levels.h): attention's tile_gemm and transposes, kiln's sgemm (the model's products),
// the blocked attention forward, backward and KV-cache forward, multi-head and grouped-query (against
// the fp64 reference, and bit for bit under 1 and 2 threads), and the attention ops' fp32 dispatch to
// it; and gemm()'s choice between kiln's sgemm and OpenBLAS (kernels/cpu/gemm.h), its thread split,
// and the matmul op through both.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_blocked.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/matmul.h"
#include "tests/kernels/simd_test_levels.h"

namespace kernels::test {
namespace {

class SimdProducts : public SimdLevel {};

// tile_gemm for one M (A row-major, then the same A through a transposed view) against fp64.
void tile_gemm_case(const simd::Kernels& Kt, const char* level, int64_t M) {
  const int64_t N = 37, Kd = 19;
  const std::vector<float> A = convert<float>(randn(M * Kd, 350)), B = convert<float>(randn(Kd * N, 351));
  std::vector<float> C = floats(M * N), Ct = floats(M * N, 1.f);
  Kt.tile_gemm(M, N, Kd, A.data(), Kd, 1, B.data(), N, C.data(), N, false);
  // A transposed view: A^T (Kd x M) stored, read as A(i,k) = At[k * M + i].
  std::vector<float> At = floats(M * Kd);
  Kt.transpose(At.data(), M, A.data(), Kd, M, Kd);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < Kd; ++k) ASSERT_EQ(At[size_t(k * M + i)], A[size_t(i * Kd + k)]) << "transpose";
  Kt.tile_gemm(M, N, Kd, At.data(), 1, M, B.data(), N, Ct.data(), N, true);  // accumulate onto ones
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
  w.check(level);
}

TEST_P(SimdProducts, TileGemmAndTransposeMatchDouble) {
  // Nothing a multiple of the register tile; M = 13, 14, 32, 3 take each row split (6 6 1; 6 4 4;
  // 6 6 6 6 4 4; 3) through the 6-, 4- and 2-row tiles.
  for (const int64_t M : {int64_t(13), int64_t(14), int64_t(32), int64_t(3)}) {
    SCOPED_TRACE("M " + std::to_string(M));
    tile_gemm_case(K(), level_.name, M);
  }
}

// kiln's sgemm (the model's products) against an fp64 product: every transpose pair, alpha and
// beta, edges in M, N and K (not multiples of the register tile or of the K block), two K blocks;
// with a bias, the same bits as adding it to the product without one.
TEST_P(SimdProducts, SgemmMatchesDouble) {
  struct Case {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    bool bias;
  };
  std::vector<float> work = floats(simd::kGemmWorkspaceFloats);
  // Rows: M mod 6 (AVX2, SSE2) and mod 12 (AVX-512) reach every last-tile size (6/4/2 rows, or
  // 12/8/4); M > 96 and 192 crosses a row block. K > 512 (and > 256) crosses a K block, ending in a
  // partial one; K = 2048 + 7 is a weight gradient's shape (ta, beta 1) with a ragged end.
  for (const Case c :
       {Case{false, true, 67, 45, 130, 1.f, 0.f, true}, Case{false, false, 31, 70, 600, 1.f, 1.f, true},
        Case{true, false, 50, 33, 1100, 1.f, 1.f, false}, Case{true, true, 13, 9, 7, 0.5f, 0.25f, true},
        Case{false, true, 1, 1, 1, 1.f, 0.f, false}, Case{false, true, 200, 4200, 3, 1.f, 0.f, true},
        Case{false, true, 100, 37, 129, 1.f, 0.f, false}, Case{false, false, 9, 16, 513, 1.f, 0.f, true},
        Case{true, false, 23, 31, 2055, 1.f, 1.f, true}, Case{false, false, 197, 50, 260, 1.f, 1.f, false},
        Case{true, false, 128, 128, 2048, 1.f, 1.f, false}}) {
    const int64_t lda = c.ta ? c.M + 3 : c.K + 5, ldb = c.tb ? c.K + 2 : c.N + 1, ldc = c.N + 4;  // padded rows
    const std::vector<float> A = convert<float>(randn((c.ta ? c.K : c.M) * lda, 400)),
                             B = convert<float>(randn((c.tb ? c.N : c.K) * ldb, 401));
    const std::vector<float> C0 = convert<float>(randn(c.M * ldc, 402)), bias = convert<float>(randn(c.N, 403));
    std::vector<float> C = C0;
    K().sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc,
              c.bias ? bias.data() : nullptr, work.data());
    std::vector<float> no_bias = C0;
    if (c.bias)
      K().sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, no_bias.data(), ldc,
                nullptr, work.data());
    Worst w{c.bias ? "sgemm + bias (vs fp64)" : "sgemm (vs fp64)"};
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < ldc; ++j) {
        const size_t e = size_t(i * ldc + j);
        if (j >= c.N) {  // the padding of C's rows is not touched
          ASSERT_EQ(C[e], C0[e]) << "wrote past column N";
          continue;
        }
        if (c.bias) {
          ASSERT_EQ(C[e], no_bias[e] + bias[size_t(j)]) << "bias not added once, after the product";
        }
        double want = 0, scale = std::fabs(double(c.beta) * C0[e]);
        for (int64_t k = 0; k < c.K; ++k) {
          const double a = c.ta ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)];
          const double b = c.tb ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
          want += a * b;
          scale += std::fabs(c.alpha * a * b);
        }
        want = c.alpha * want + double(c.beta) * C0[e] + (c.bias ? double(bias[size_t(j)]) : 0.0);
        scale += c.bias ? std::fabs(double(bias[size_t(j)])) : 0.0;
        w.add(std::fabs(C[e] - want), simd::kSgemmMaxRelError * scale, double(i * c.N + j));
      }
    w.check(level_.name);
  }
}

// Attention shapes: multi-head (NKV == NH) and grouped-query 4:2, 4:1 and 8:2; T not a multiple of
// the tile (32) or of any SIMD width except 128; hs 16, 32 and 64.
struct AttnShape {
  int64_t B, T, NH, NKV, hs;
  cpu::AttentionGeometry geometry() const { return cpu::AttentionGeometry(NH, NKV, hs); }
};
const AttnShape kAttnShapes[] = {{2, 70, 4, 4, 16}, {1, 128, 4, 4, 32}, {1, 45, 2, 2, 64},
                                 {2, 70, 4, 2, 16}, {1, 45, 4, 1, 32},  {2, 100, 8, 2, 16}};

std::string shape_name(const AttnShape& s) {
  char name[96];
  std::snprintf(name, sizeof name, "B%lld T%lld heads %lld:%lld hs %lld", (long long)s.B, (long long)s.T,
                (long long)s.NH, (long long)s.NKV, (long long)s.hs);
  return name;
}

// The blocked path's outputs for one shape: forward, backward, and the KV-cache forward of
// sequence 0 fed as generation does (a 40-token prompt, then one token per call).
struct BlockedRun {
  std::vector<float> out, lse, dqkv, cached, k_cache, v_cache;
};
BlockedRun run_blocked(const cpu::simd::Kernels& K, const AttnShape& s, const std::vector<float>& qkv,
                       const std::vector<float>& dout) {
  const cpu::AttentionGeometry g = s.geometry();
  const int64_t B = s.B, T = s.T, maxT = T + 5, KC = s.NKV * s.hs;
  BlockedRun r{floats(B * T * g.C), floats(B * s.NH * T), floats(B * T * g.W, 9.f), floats(T * g.C),
               floats(maxT * KC, 5.f), floats(maxT * KC, 5.f)};
  cpu::attention_forward_blocked(K, r.out.data(), r.lse.data(), qkv.data(), B, T, g);
  cpu::attention_backward_blocked(K, r.dqkv.data(), dout.data(), qkv.data(), r.out.data(), r.lse.data(), B, T, g);
  for (int64_t pos = 0; pos < T;) {
    const int64_t n = pos == 0 ? std::min(int64_t(40), T) : 1;
    cpu::attention_cached_forward_blocked(K, r.cached.data() + pos * g.C, qkv.data() + pos * g.W, r.k_cache.data(),
                                          r.v_cache.data(), pos, n, g);
    pos += n;
  }
  return r;
}

TEST_P(SimdProducts, BlockedAttentionMatchesReference) {
  for (const AttnShape& s : kAttnShapes) {
    const cpu::AttentionGeometry g = s.geometry();
    const int64_t B = s.B, T = s.T;
    const std::vector<float> qkv = convert<float>(randn(B * T * g.W, 360, 1.5)),
                             dout = convert<float>(randn(B * T * g.C, 361));
    const BlockedRun got = run_blocked(K(), s, qkv, dout);
    const std::vector<double> qkv64 = convert<double>(qkv), dout64 = convert<double>(dout);
    std::vector<double> out64(got.out.size()), lse64(got.lse.size()), dqkv64(got.dqkv.size());
    cpu::attention_forward_ref<double>(out64.data(), lse64.data(), qkv64.data(), B, T, g);
    cpu::attention_backward_ref<double>(dqkv64.data(), dout64.data(), qkv64.data(), out64.data(), lse64.data(), B, T,
                                        g);
    // The cached forward of sequence 0 equals the full forward's rows of sequence 0.
    const std::vector<double> cached64(out64.begin(), out64.begin() + T * g.C);
    const std::string shape = shape_name(s);
    for (auto [name, err] :
         {std::pair{"attention out", rel_err(got.out, out64)}, std::pair{"attention lse", rel_err(got.lse, lse64)},
          std::pair{"attention dqkv", rel_err(got.dqkv, dqkv64)},
          std::pair{"cached attention out", rel_err(got.cached, cached64)}}) {
      Worst w{name};
      w.add(err, simd::kAttentionMaxRelError, double(T));
      SCOPED_TRACE(shape);
      w.check(level_.name);
    }
    // The caches hold sequence 0's k and v heads, token by token, exactly.
    const int64_t KC = s.NKV * s.hs;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < KC; ++c) {
        ASSERT_EQ(got.k_cache[size_t(t * KC + c)], qkv[size_t(t * g.W + g.k(0) + c)]) << shape << " k cache";
        ASSERT_EQ(got.v_cache[size_t(t * KC + c)], qkv[size_t(t * g.W + g.v(0) + c)]) << shape << " v cache";
      }
  }
}

// Grouped-query backward adds a group's query heads into one dk, dv inside one task: 1 and 2
// threads (and a repeat) give the same bits, forward and cached too. Sizes go parallel.
TEST_P(SimdProducts, BlockedAttentionBitIdenticalUnderAnyThreadCount) {
  for (const AttnShape s : {AttnShape{4, 70, 4, 2, 16}, AttnShape{3, 100, 8, 2, 16}, AttnShape{2, 64, 4, 1, 32}}) {
    const cpu::AttentionGeometry g = s.geometry();
    const std::vector<float> qkv = convert<float>(randn(s.B * s.T * g.W, 362, 1.5)),
                             dout = convert<float>(randn(s.B * s.T * g.C, 363));
    omp_set_num_threads(1);
    const BlockedRun one = run_blocked(K(), s, qkv, dout);
    omp_set_num_threads(2);
    const BlockedRun two = run_blocked(K(), s, qkv, dout), again = run_blocked(K(), s, qkv, dout);
    for (const BlockedRun* r : {&two, &again}) {
      EXPECT_EQ(one.out, r->out) << shape_name(s);
      EXPECT_EQ(one.lse, r->lse) << shape_name(s);
      EXPECT_EQ(one.dqkv, r->dqkv) << shape_name(s);
      EXPECT_EQ(one.cached, r->cached) << shape_name(s);
    }
  }
}

// The Ops entry points send fp32 grouped-query attention to the blocked path (the same bits as a
// direct call at the active level), not to the per-pair reference.
TEST(CpuAttention, Fp32GroupedQueryTakesTheBlockedPath) {
  const AttnShape s{2, 70, 4, 2, 16};
  const cpu::AttentionGeometry g = s.geometry();
  const int64_t B = s.B, T = s.T, NH = s.NH, NKV = s.NKV;
  std::vector<float> qkv = convert<float>(randn(B * T * g.W, 364, 1.5)), dout = convert<float>(randn(B * T * g.C, 365));
  const BlockedRun want = run_blocked(simd::active(), s, qkv, dout);
  std::vector<float> out = floats(B * T * g.C), lse = floats(B * NH * T), dqkv = floats(B * T * g.W);
  cpu_ops().attention_forward(view(out, {B, T, g.C}), view(lse, {B, NH, T}), view(qkv, {B, T, g.W}), int(NH),
                              int(NKV), Stream::host());
  cpu_ops().attention_backward(view(dqkv, {B, T, g.W}), view(dout, {B, T, g.C}), view(qkv, {B, T, g.W}),
                               view(out, {B, T, g.C}), view(lse, {B, NH, T}), int(NH), int(NKV), Stream::host());
  EXPECT_EQ(out, want.out);
  EXPECT_EQ(lse, want.lse);
  EXPECT_EQ(dqkv, want.dqkv);
  const int64_t maxT = T + 5, KC = NKV * s.hs;
  std::vector<float> cached = floats(T * g.C), kc = floats(maxT * KC, 5.f), vc = floats(maxT * KC, 5.f);
  std::vector<float> seq0(qkv.begin(), qkv.begin() + T * g.W);
  cpu_ops().attention_cached_forward(view(cached, {T, g.C}), view(seq0, {T, g.W}), view(kc, {maxT, KC}),
                                     view(vc, {maxT, KC}), 0, int(NH), int(NKV), Stream::host());
  std::vector<float> want_prompt = floats(T * g.C), kc2 = floats(maxT * KC, 5.f), vc2 = floats(maxT * KC, 5.f);
  cpu::attention_cached_forward_blocked(simd::active(), want_prompt.data(), seq0.data(), kc2.data(), vc2.data(), 0,
                                        T, g);
  EXPECT_EQ(cached, want_prompt);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, SimdProducts, ::testing::Range(0, int(std::size(kLevels))), level_name);

// ---- gemm() -------------------------------------------------------------------------------------

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

// A product split by columns (N > M) hands each block its columns of the bias: under 1 and 2
// threads, through kiln's sgemm and OpenBLAS (K 128 and 768 at avx2), C equals the product without
// the bias plus the bias, bit for bit.
TEST(CpuGemm, BiasFollowsTheColumnSplit) {
  for (int64_t K : {int64_t(128), int64_t(768)}) {
    const int64_t M = 60, N = 1000;
    const std::vector<float> A = convert<float>(randn(M * K, 422)), B = convert<float>(randn(N * K, 423)),
                             bias = convert<float>(randn(N, 424));
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      std::vector<float> with = floats(M * N), without = floats(M * N);
      cpu::gemm(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, with.data(), N, bias.data());
      cpu::gemm(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, without.data(), N);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j)
          ASSERT_EQ(with[size_t(i * N + j)], without[size_t(i * N + j)] + bias[size_t(j)])
              << "K " << K << ", " << threads << " threads, row " << i << " column " << j;
    }
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

}  // namespace
}  // namespace kernels::test
