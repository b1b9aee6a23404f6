// tests/kernels/test_llama_ops.cpp
// The Llama ops of the CPU reference: RMSNorm (plain and fused with the residual add), rotary
// embedding, SwiGLU and grouped-query attention.
//  - gradient checks in double against central differences (h = 1e-6, norm-based relative error
//    < 1e-6, the same checker as test_gradcheck.cpp), through the templated reference and through
//    the op table with fp64 tensors;
//  - worked examples with hand-computed values (RoPE's rotate-half pairing, RMSNorm, SwiGLU);
//  - structure: GQA equals multi-head attention over repeated key/value heads (forward, and the
//    backward summed over each group), the cached form equals the full one, RoPE's scores depend
//    only on the distance between positions, the fused residual form equals the unfused one.
#include <cmath>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/swiglu.h"
#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

const Stream kHost = Stream::host();

class LlamaGradCheck : public ::testing::TestWithParam<bool> {
 protected:
  bool by_table() const { return GetParam(); }
  std::string tag(const char* what) const { return std::string(by_table() ? "ops/" : "ref/") + what; }
  const Ops& ops = cpu_ops();
};

TEST_P(LlamaGradCheck, Rmsnorm) {
  const int64_t B = 2, T = 3, C = 8, N = B * T;
  const float eps = 1e-5f;
  std::vector<double> x = randn(N * C, 301, 1.3, 0.2), weight = randn(C, 302, 0.3, 1.0), w = randn(N * C, 303);
  std::vector<double> out = zeros(N * C), rstd = zeros(N);
  auto forward = [&] {
    if (by_table())
      ops.rmsnorm_forward(view(out, {B, T, C}), view(rstd, {B, T}), view(x, {B, T, C}), view(weight, {C}), eps, kHost);
    else
      cpu::rmsnorm_forward_ref(out.data(), rstd.data(), x.data(), weight.data(), N, C, double(eps));
  };
  auto loss = [&] { forward(); return dot(w, out); };
  forward();
  std::vector<double> dx = zeros(N * C), dweight = zeros(C);
  if (by_table())
    ops.rmsnorm_backward(view(dx, {B, T, C}), view(dweight, {C}), view(w, {B, T, C}), view(x, {B, T, C}),
                         view(weight, {C}), view(rstd, {B, T}), kHost);
  else
    cpu::rmsnorm_backward_ref(dx.data(), dweight.data(), w.data(), x.data(), weight.data(), rstd.data(), N, C);
  EXPECT_LT(grad_check(tag("rmsnorm.x"), x, loss, dx), kGradTol);
  EXPECT_LT(grad_check(tag("rmsnorm.weight"), weight, loss, dweight), kGradTol);
}

// The fused form: d/da and d/db of rmsnorm(a + b) are both RMSNorm's dx (the add passes it through),
// and the written sum is part of the output too (the next layer reads it).
TEST_P(LlamaGradCheck, ResidualRmsnorm) {
  const int64_t N = 5, C = 6;
  const float eps = 1e-5f;
  std::vector<double> a = randn(N * C, 311), b = randn(N * C, 312, 0.7), weight = randn(C, 313, 0.3, 1.0);
  std::vector<double> w_out = randn(N * C, 314), w_sum = randn(N * C, 315);
  std::vector<double> sum = zeros(N * C), out = zeros(N * C), rstd = zeros(N);
  auto forward = [&] {
    if (by_table())
      ops.residual_rmsnorm_forward(view(sum, {N, C}), view(out, {N, C}), view(rstd, {N}), view(a, {N, C}),
                                   view(b, {N, C}), view(weight, {C}), eps, kHost);
    else
      cpu::residual_rmsnorm_forward_ref(sum.data(), out.data(), rstd.data(), a.data(), b.data(), weight.data(), N, C,
                                        double(eps));
  };
  auto loss = [&] { forward(); return dot(w_out, out) + dot(w_sum, sum); };
  forward();
  std::vector<double> dx = w_sum, dweight = zeros(C);  // the sum's own gradient, then RMSNorm's added
  if (by_table())
    ops.rmsnorm_backward(view(dx, {N, C}), view(dweight, {C}), view(w_out, {N, C}), view(sum, {N, C}),
                         view(weight, {C}), view(rstd, {N}), kHost);
  else
    cpu::rmsnorm_backward_ref(dx.data(), dweight.data(), w_out.data(), sum.data(), weight.data(), rstd.data(), N, C);
  EXPECT_LT(grad_check(tag("residual_rmsnorm.a"), a, loss, dx), kGradTol);
  EXPECT_LT(grad_check(tag("residual_rmsnorm.b"), b, loss, dx), kGradTol);
  EXPECT_LT(grad_check(tag("residual_rmsnorm.weight"), weight, loss, dweight), kGradTol);
}

// RoPE on q and k of a GQA qkv (NH 4, NKV 2, hs 6), at an offset pos0: the gradient of the whole qkv,
// v included (which RoPE must leave alone: its gradient passes through unchanged).
TEST_P(LlamaGradCheck, Rope) {
  const int64_t B = 2, T = 5, NH = 4, NKV = 2, hs = 6, W = (NH + 2 * NKV) * hs;
  const int pos0 = 3;
  const float theta = 10000.f;
  std::vector<double> x = randn(B * T * W, 321), w = randn(B * T * W, 322), y;
  auto loss = [&] {
    y = x;
    if (by_table())
      ops.rope_forward(view(y, {B, T, W}), int(NH), int(NKV), pos0, theta, kHost);
    else
      cpu::rope_ref(y.data(), B, T, W, NH + NKV, hs, pos0, double(theta), +1);
    return dot(w, y);
  };
  std::vector<double> dx = w;
  if (by_table())
    ops.rope_backward(view(dx, {B, T, W}), int(NH), int(NKV), pos0, theta, kHost);
  else
    cpu::rope_ref(dx.data(), B, T, W, NH + NKV, hs, pos0, double(theta), -1);
  EXPECT_LT(grad_check(tag("rope.qkv"), x, loss, dx), kGradTol);
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t c = (NH + NKV) * hs; c < W; ++c) ASSERT_EQ(dx[size_t(r * W + c)], w[size_t(r * W + c)]) << "v moved";
}

TEST_P(LlamaGradCheck, Swiglu) {
  const int64_t N = 4, F = 5;
  std::vector<double> inp = randn(N * 2 * F, 331, 2.0), w = randn(N * F, 332), out = zeros(N * F);
  inp[0] = 0.0;   // silu'(0) = 1/2
  inp[1] = -7.0;  // a far tail
  auto loss = [&] {
    if (by_table())
      ops.swiglu_forward(view(out, {N, F}), view(inp, {N, 2 * F}), kHost);
    else
      cpu::swiglu_forward_ref(out.data(), inp.data(), N, F);
    return dot(w, out);
  };
  std::vector<double> dinp = zeros(N * 2 * F);
  if (by_table())
    ops.swiglu_backward(view(dinp, {N, 2 * F}), view(w, {N, F}), view(inp, {N, 2 * F}), kHost);
  else
    cpu::swiglu_backward_ref(dinp.data(), w.data(), inp.data(), N, F);
  EXPECT_LT(grad_check(tag("swiglu.inp"), inp, loss, dinp), kGradTol);
}

// Grouped-query attention, 4 query heads on 2 and on 1 key/value heads (and 4: plain multi-head).
TEST_P(LlamaGradCheck, GroupedQueryAttention) {
  for (int64_t NKV : {2, 1, 4}) {
    const int64_t B = 2, T = 6, NH = 4, hs = 3, W = (NH + 2 * NKV) * hs, C = NH * hs;
    std::vector<double> qkv = randn(B * T * W, 341 + uint64_t(NKV)), w = randn(B * T * C, 345);
    std::vector<double> out = zeros(B * T * C), lse = zeros(B * NH * T);
    const cpu::AttentionGeometry g(NH, NKV, hs);
    auto forward = [&] {
      if (by_table())
        ops.attention_forward(view(out, {B, T, C}), view(lse, {B, NH, T}), view(qkv, {B, T, W}), int(NH), int(NKV),
                              kHost);
      else
        cpu::attention_forward_ref(out.data(), lse.data(), qkv.data(), B, T, g);
    };
    auto loss = [&] { forward(); return dot(w, out); };
    forward();
    std::vector<double> dqkv = zeros(B * T * W);
    if (by_table())
      ops.attention_backward(view(dqkv, {B, T, W}), view(w, {B, T, C}), view(qkv, {B, T, W}), view(out, {B, T, C}),
                             view(lse, {B, NH, T}), int(NH), int(NKV), kHost);
    else
      cpu::attention_backward_ref(dqkv.data(), w.data(), qkv.data(), out.data(), lse.data(), B, T, g);
    const std::string what = "attention.qkv NH=4 NKV=" + std::to_string(NKV);
    EXPECT_LT(grad_check(tag(what.c_str()), qkv, loss, dqkv), kGradTol);
  }
}

INSTANTIATE_TEST_SUITE_P(CpuDouble, LlamaGradCheck, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "OpsTableF64" : "Reference");
                         });

// ---- worked examples ---------------------------------------------------------------------------

// hs = 4, theta = 10000: pair (0, 2) turns at theta^0 = 1 rad per position, pair (1, 3) at
// theta^(-1/2) = 0.01 rad. One head of q, one of k, one of v (NH = NKV = 1), position 1.
TEST(Rope, RotatesHalvesByHandComputedAngles) {
  std::vector<double> qkv = {1, 2, 3, 4,  /*k*/ 1, 0, 0, 0,  /*v*/ 5, 6, 7, 8};
  cpu_ops().rope_forward(view(qkv, {1, 1, 12}), 1, 1, /*pos0=*/1, 10000.f, kHost);
  const double c1 = std::cos(1.0), s1 = std::sin(1.0), c2 = std::cos(0.01), s2 = std::sin(0.01);
  const std::vector<double> want = {1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2,
                                    c1, 0, s1, 0,  // k = e0 turns into the (0, 2) plane, not (0, 1)
                                    5, 6, 7, 8};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(qkv[i], want[i], 1e-15) << "channel " << i;
  // Position 0 is the identity.
  std::vector<double> at0 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, copy = at0;
  cpu_ops().rope_forward(view(at0, {1, 1, 12}), 1, 1, 0, 10000.f, kHost);
  EXPECT_EQ(at0, copy);
}

// q.k after RoPE depends on the positions only through their difference (why RoPE encodes relative
// position): scores of (q at i, k at j) equal those of (q at i+5, k at j+5).
TEST(Rope, ScoresDependOnlyOnTheDistance) {
  const int64_t hs = 8, W = 3 * hs, T = 4;
  const std::vector<double> row = randn(W, 351);
  std::vector<double> x(size_t(T * W));
  for (int64_t t = 0; t < T; ++t) std::copy(row.begin(), row.end(), x.begin() + t * W);  // one token repeated
  std::vector<double> a = x, b = x;
  cpu_ops().rope_forward(view(a, {1, T, W}), 1, 1, 0, 500000.f, kHost);
  cpu_ops().rope_forward(view(b, {1, T, W}), 1, 1, 5, 500000.f, kHost);
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j < T; ++j) {
      double sa = 0, sb = 0;
      for (int64_t d = 0; d < hs; ++d) {
        sa += a[size_t(i * W + d)] * a[size_t(j * W + hs + d)];
        sb += b[size_t(i * W + d)] * b[size_t(j * W + hs + d)];
      }
      EXPECT_NEAR(sa, sb, 1e-12) << "i=" << i << " j=" << j;
    }
}

// A window at pos0 equals the same rows of a longer sequence from 0 (what the KV cache relies on).
TEST(Rope, OffsetEqualsTheRowsOfALongerSequence) {
  const int64_t NH = 2, NKV = 1, hs = 4, W = (NH + 2 * NKV) * hs, T = 7, pos0 = 4;
  std::vector<double> full = randn(T * W, 361);
  std::vector<double> tail(full.begin() + pos0 * W, full.end());
  cpu_ops().rope_forward(view(full, {1, T, W}), int(NH), int(NKV), 0, 10000.f, kHost);
  cpu_ops().rope_forward(view(tail, {1, T - pos0, W}), int(NH), int(NKV), int(pos0), 10000.f, kHost);
  for (size_t i = 0; i < tail.size(); ++i) ASSERT_EQ(tail[i], full[size_t(pos0 * W) + i]) << i;
}

// x = [1, 2, 3, 4]: mean(x^2) = 7.5, rstd = 1/sqrt(7.5 + eps).
TEST(Rmsnorm, WorkedExample) {
  std::vector<double> x = {1, 2, 3, 4}, w = {1, 1, 2, 0.5}, out = zeros(4), rstd = zeros(1);
  cpu_ops().rmsnorm_forward(view(out, {1, 4}), view(rstd, {1}), view(x, {1, 4}), view(w, {4}), 1e-5f, kHost);
  const double r = 1.0 / std::sqrt(7.5 + double(1e-5f));
  EXPECT_NEAR(rstd[0], r, 1e-15);
  EXPECT_NEAR(rstd[0], 0.365148, 1e-6);
  const std::vector<double> want = {r, 2 * r, 6 * r, 2 * r};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(out[i], want[i], 1e-15);
}

// The fused form writes a + b and normalises it: equal to residual_forward then rmsnorm_forward, bit
// for bit in fp32, also when the sum replaces a in place (the generator's residual stream).
TEST(Rmsnorm, FusedResidualEqualsAddThenNorm) {
  const int64_t N = 9, C = 96;
  std::vector<float> a = convert<float>(randn(N * C, 371)), b = convert<float>(randn(N * C, 372));
  std::vector<float> w = convert<float>(randn(C, 373, 0.2, 1.0));
  std::vector<float> sum(size_t(N * C)), out(size_t(N * C)), rstd(static_cast<size_t>(N));
  std::vector<float> sum2(size_t(N * C)), out2(size_t(N * C)), rstd2(static_cast<size_t>(N));
  cpu_ops().residual_rmsnorm_forward(view(sum, {N, C}), view(out, {N, C}), view(rstd, {N}), view(a, {N, C}),
                                     view(b, {N, C}), view(w, {C}), 1e-6f, kHost);
  cpu_ops().residual_forward(view(sum2, {N, C}), view(a, {N, C}), view(b, {N, C}), kHost);
  cpu_ops().rmsnorm_forward(view(out2, {N, C}), view(rstd2, {N}), view(sum2, {N, C}), view(w, {C}), 1e-6f, kHost);
  EXPECT_EQ(sum, sum2);
  EXPECT_EQ(out, out2);
  EXPECT_EQ(rstd, rstd2);
  std::vector<float> stream = a;  // in place: sum aliases a
  cpu_ops().residual_rmsnorm_forward(view(stream, {N, C}), view(out2, {N, C}), view(rstd2, {N}), view(stream, {N, C}),
                                     view(b, {N, C}), view(w, {C}), 1e-6f, kHost);
  EXPECT_EQ(stream, sum);
  EXPECT_EQ(out2, out);
}

// gate 0 gives 0 whatever up is; gate 1, up 2 gives 2 * sigmoid(1) = 1.462117; gate -1, up 3 gives
// -3 * sigmoid(-1) = -0.806824.
TEST(Swiglu, WorkedExample) {
  std::vector<double> inp = {0, 1, -1, /*up*/ 5, 2, 3}, out = zeros(3);
  cpu_ops().swiglu_forward(view(out, {1, 3}), view(inp, {1, 6}), kHost);
  EXPECT_EQ(out[0], 0.0);
  EXPECT_NEAR(out[1], 1.462117, 1e-6);
  EXPECT_NEAR(out[2], -0.806824, 1e-6);
  // In place: dinp replaces inp.
  std::vector<double> dout = {1, 1, 1}, want = zeros(6), inplace = inp;
  cpu_ops().swiglu_backward(view(want, {1, 6}), view(dout, {1, 3}), view(inp, {1, 6}), kHost);
  cpu_ops().swiglu_backward(view(inplace, {1, 6}), view(dout, {1, 3}), view(inplace, {1, 6}), kHost);
  EXPECT_EQ(inplace, want);
  EXPECT_NEAR(want[0], 5 * 0.5, 1e-15);  // up * silu'(0) = 5 * 1/2
}

// ---- grouped-query attention against multi-head attention ---------------------------------------

// qkv of GQA (NH query heads, NKV kv heads) -> the same as multi-head qkv (3 * NH heads) in which
// kv head g is repeated for query heads g*G .. g*G+G-1 (Hugging Face's repeat_kv).
std::vector<double> repeat_kv(const std::vector<double>& qkv, int64_t rows, int64_t NH, int64_t NKV, int64_t hs) {
  const int64_t W = (NH + 2 * NKV) * hs, C = NH * hs, G = NH / NKV;
  std::vector<double> out(size_t(rows * 3 * C));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t d = 0; d < hs; ++d) {
        out[size_t(r * 3 * C + h * hs + d)] = qkv[size_t(r * W + h * hs + d)];
        out[size_t(r * 3 * C + C + h * hs + d)] = qkv[size_t(r * W + C + (h / G) * hs + d)];
        out[size_t(r * 3 * C + 2 * C + h * hs + d)] = qkv[size_t(r * W + C + NKV * hs + (h / G) * hs + d)];
      }
  return out;
}

TEST(GroupedQueryAttention, EqualsMultiHeadOverRepeatedKeyValueHeads) {
  const int64_t B = 2, T = 7, NH = 6, NKV = 2, hs = 4, W = (NH + 2 * NKV) * hs, C = NH * hs, G = NH / NKV;
  const std::vector<double> qkv = randn(B * T * W, 381), dout = randn(B * T * C, 382);
  const std::vector<double> mha = repeat_kv(qkv, B * T, NH, NKV, hs);
  std::vector<double> out = zeros(B * T * C), lse = zeros(B * NH * T), out_m = out, lse_m = lse;
  std::vector<double> dqkv = zeros(B * T * W), dmha = zeros(B * T * 3 * C);
  std::vector<double> q = qkv, m = mha, d = dout;
  cpu_ops().attention_forward(view(out, {B, T, C}), view(lse, {B, NH, T}), view(q, {B, T, W}), int(NH), int(NKV), kHost);
  cpu_ops().attention_forward(view(out_m, {B, T, C}), view(lse_m, {B, NH, T}), view(m, {B, T, 3 * C}), int(NH),
                              int(NH), kHost);
  EXPECT_LT(rel_err(out, out_m), 1e-14);
  EXPECT_LT(rel_err(lse, lse_m), 1e-14);
  cpu_ops().attention_backward(view(dqkv, {B, T, W}), view(d, {B, T, C}), view(q, {B, T, W}), view(out, {B, T, C}),
                               view(lse, {B, NH, T}), int(NH), int(NKV), kHost);
  cpu_ops().attention_backward(view(dmha, {B, T, 3 * C}), view(d, {B, T, C}), view(m, {B, T, 3 * C}),
                               view(out_m, {B, T, C}), view(lse_m, {B, NH, T}), int(NH), int(NH), kHost);
  // dq equal; dk, dv of kv head g = the sum over its G repeated copies.
  std::vector<double> want = zeros(B * T * W);
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t x = 0; x < hs; ++x) {
        want[size_t(r * W + h * hs + x)] = dmha[size_t(r * 3 * C + h * hs + x)];
        want[size_t(r * W + C + (h / G) * hs + x)] += dmha[size_t(r * 3 * C + C + h * hs + x)];
        want[size_t(r * W + C + NKV * hs + (h / G) * hs + x)] += dmha[size_t(r * 3 * C + 2 * C + h * hs + x)];
      }
  EXPECT_LT(rel_err(dqkv, want), 1e-14);
}

// Generation over a cache of NKV heads: feeding the sequence in pieces gives the full forward's
// rows, and the cache holds exactly k and v of NKV heads per position.
TEST(GroupedQueryAttention, CachedEqualsFullForward) {
  const int64_t T = 9, NH = 4, NKV = 2, hs = 3, W = (NH + 2 * NKV) * hs, C = NH * hs, KC = NKV * hs;
  std::vector<double> qkv = randn(T * W, 391), want = zeros(T * C), lse = zeros(NH * T);
  cpu_ops().attention_forward(view(want, {1, T, C}), view(lse, {1, NH, T}), view(qkv, {1, T, W}), int(NH), int(NKV),
                              kHost);
  std::vector<double> kc = zeros(T * KC), vc = zeros(T * KC), got = zeros(T * C);
  for (int64_t pos = 0; pos < T;) {
    const int64_t n = pos == 0 ? 3 : 2 - pos % 2;  // pieces of 3, then 1s and 2s
    const int64_t take = std::min(n, T - pos);
    std::vector<double> rows(qkv.begin() + pos * W, qkv.begin() + (pos + take) * W), out = zeros(take * C);
    cpu_ops().attention_cached_forward(view(out, {take, C}), view(rows, {take, W}), view(kc, {T, KC}),
                                       view(vc, {T, KC}), int(pos), int(NH), int(NKV), kHost);
    std::copy(out.begin(), out.end(), got.begin() + pos * C);
    pos += take;
  }
  EXPECT_LT(rel_err(got, want), 1e-14);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < KC; ++c) {
      EXPECT_EQ(kc[size_t(t * KC + c)], qkv[size_t(t * W + C + c)]);
      EXPECT_EQ(vc[size_t(t * KC + c)], qkv[size_t(t * W + C + KC + c)]);
    }
}

// ---- argument checks ----------------------------------------------------------------------------

TEST(LlamaOpChecks, RefuseWhatTheContractForbids) {
  std::vector<double> qkv = zeros(2 * 2 * 20), out = zeros(2 * 2 * 12), lse = zeros(2 * 3 * 2);
  // 3 query heads cannot share 2 key/value heads.
  EXPECT_DEATH(cpu_ops().attention_forward(view(out, {2, 2, 12}), view(lse, {2, 3, 2}), view(qkv, {2, 2, 20}), 3, 2,
                                           kHost),
               "n_head=3 must be a positive multiple of n_kv_head=2");
  // hs = 5 is odd: RoPE turns channels in pairs.
  std::vector<double> odd = zeros(3 * 5);
  EXPECT_DEATH(cpu_ops().rope_forward(view(odd, {1, 1, 15}), 1, 1, 0, 10000.f, kHost), "head size 5 must be even");
  std::vector<double> x = zeros(8), y = zeros(8), w = zeros(4), r = zeros(2);
  EXPECT_DEATH(cpu_ops().rmsnorm_forward(view(y, {2, 4}), view(r, {2}), view(x, {2, 4}), view(w, {4}), 0.f, kHost),
               "eps must be a finite number > 0");
  std::vector<double> gu = zeros(2 * 5), o = zeros(2 * 2);
  EXPECT_DEATH(cpu_ops().swiglu_forward(view(o, {2, 2}), view(gu, {2, 5}), kHost), "even width 2F");
  // The fused form's normalised output must not share memory with the stream it reads.
  std::vector<double> a = zeros(8), b = zeros(8);
  EXPECT_DEATH(cpu_ops().residual_rmsnorm_forward(view(a, {2, 4}), view(a, {2, 4}), view(r, {2}), view(a, {2, 4}),
                                                  view(b, {2, 4}), view(w, {4}), 1e-5f, kHost),
               "out must not overlap sum");
}

}  // namespace
}  // namespace kernels::test
