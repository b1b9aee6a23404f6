// tests/kernels/test_attention.cpp
// Causal attention beyond the gradient check: the flash-style kernel (which never forms the
// (T,T) matrix) against a naive double implementation that does, the saved logsumexp, causality
// in forward and backward, and the T = 1 edge case.
// Not here: finite differences (test_gradcheck.cpp), dtype accuracy (test_precision.cpp).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/attention.h"
#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

// Textbook attention: full score matrix per head, mask, softmax, weighted sum. Written
// independently of kernels/cpu/attention.h on purpose.
void naive_attention(const std::vector<double>& qkv, int64_t B, int64_t T, int64_t C, int64_t NH,
                     std::vector<double>* out, std::vector<double>* lse) {
  const int64_t hs = C / NH;
  out->assign(size_t(B * T * C), 0.0);
  lse->assign(size_t(B * NH * T), 0.0);
  auto at = [&](int64_t b, int64_t t, int64_t part, int64_t h, int64_t d) {
    return qkv[size_t((b * T + t) * 3 * C + part * C + h * hs + d)];
  };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h) {
      std::vector<double> S(size_t(T * T), -INFINITY);
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j <= i; ++j) {
          double s = 0;
          for (int64_t d = 0; d < hs; ++d) s += at(b, i, 0, h, d) * at(b, j, 1, h, d);
          S[size_t(i * T + j)] = s / std::sqrt(double(hs));
        }
      for (int64_t i = 0; i < T; ++i) {
        const double m = *std::max_element(S.begin() + i * T, S.begin() + (i + 1) * T);
        double z = 0;
        for (int64_t j = 0; j < T; ++j) z += std::exp(S[size_t(i * T + j)] - m);  // masked: exp(-inf) = 0
        (*lse)[size_t((b * NH + h) * T + i)] = m + std::log(z);
        for (int64_t j = 0; j < T; ++j) {
          const double p = std::exp(S[size_t(i * T + j)] - m) / z;
          for (int64_t d = 0; d < hs; ++d) (*out)[size_t((b * T + i) * C + h * hs + d)] += p * at(b, j, 2, h, d);
        }
      }
    }
}

TEST(Attention, MatchesNaiveFullMatrixInDouble) {
  const int64_t B = 2, T = 9, C = 12, NH = 3;
  std::vector<double> qkv = randn(B * T * 3 * C, 200, 1.5), out = zeros(B * T * C), lse = zeros(B * NH * T);
  cpu_ops().attention_forward(view(out, {B, T, C}), view(lse, {B, NH, T}), view(qkv, {B, T, 3 * C}), int(NH), int(NH),
                              Stream::host());
  std::vector<double> want_out, want_lse;
  naive_attention(qkv, B, T, C, NH, &want_out, &want_lse);
  EXPECT_LT(rel_err(out, want_out), 1e-13);
  EXPECT_LT(rel_err(lse, want_lse), 1e-13);
}

TEST(Attention, Fp32MatchesNaiveAtTrainingShape) {
  const int64_t B = 1, T = 128, C = 96, NH = 3;
  const std::vector<double> qkv64 = randn(B * T * 3 * C, 201);
  std::vector<float> qkv = convert<float>(qkv64), out(static_cast<size_t>(B * T * C)), lse(static_cast<size_t>(B * NH * T));
  cpu_ops().attention_forward(view(out, {B, T, C}), view(lse, {B, NH, T}), view(qkv, {B, T, 3 * C}), int(NH), int(NH),
                              Stream::host());
  std::vector<double> want_out, want_lse;
  naive_attention(convert<double>(qkv), B, T, C, NH, &want_out, &want_lse);
  EXPECT_LT(rel_err(out, want_out), 1e-5);
  EXPECT_LT(rel_err(lse, want_lse), 1e-6);
}

TEST(Attention, FutureTokensDoNotChangeEarlierOutputs) {
  const int64_t B = 2, T = 8, C = 8, NH = 2, t0 = 5;  // perturb tokens t0.. of every sequence
  std::vector<float> qkv = convert<float>(randn(B * T * 3 * C, 210));
  std::vector<float> changed = qkv;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = t0; t < T; ++t)
      for (int64_t c = 0; c < 3 * C; ++c) changed[size_t((b * T + t) * 3 * C + c)] += 0.75f;  // q, k and v
  auto forward = [&](std::vector<float>& x, std::vector<float>& out, std::vector<float>& lse) {
    out.assign(size_t(B * T * C), 0.f);
    lse.assign(size_t(B * NH * T), 0.f);
    cpu_ops().attention_forward(view(out, {B, T, C}), view(lse, {B, NH, T}), view(x, {B, T, 3 * C}), int(NH), int(NH),
                                Stream::host());
  };
  std::vector<float> out_a, lse_a, out_b, lse_b;
  forward(qkv, out_a, lse_a);
  forward(changed, out_b, lse_b);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      bool differs = false;
      for (int64_t c = 0; c < C; ++c) {
        const size_t i = size_t((b * T + t) * C + c);
        if (t < t0) {
          EXPECT_EQ(out_a[i], out_b[i]) << "b " << b << " t " << t << " saw the future";
        }
        differs |= out_a[i] != out_b[i];
      }
      if (t >= t0) {
        EXPECT_TRUE(differs) << "b " << b << " t " << t << " should see the change";
      }
      for (int64_t h = 0; h < NH; ++h) {
        if (t < t0) {
          EXPECT_EQ(lse_a[size_t((b * NH + h) * T + t)], lse_b[size_t((b * NH + h) * T + t)]);
        }
      }
    }
}

TEST(Attention, GradientFlowsOnlyToThePast) {
  // dout nonzero only at positions < t0: nothing at positions >= t0 may receive gradient.
  const int64_t B = 1, T = 7, C = 8, NH = 2, t0 = 4;
  std::vector<double> qkv = randn(B * T * 3 * C, 220), dout = randn(B * T * C, 221);
  for (int64_t t = t0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) dout[size_t(t * C + c)] = 0.0;
  std::vector<double> out = zeros(B * T * C), lse = zeros(B * NH * T), dqkv = zeros(B * T * 3 * C);
  cpu::attention_forward_ref(out.data(), lse.data(), qkv.data(), B, T, cpu::AttentionGeometry(NH, NH, C / NH));
  cpu::attention_backward_ref(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T,
                                cpu::AttentionGeometry(NH, NH, C / NH));
  double past = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < 3 * C; ++c) {
      const double g = dqkv[size_t(t * 3 * C + c)];
      if (t >= t0) {
        EXPECT_EQ(g, 0.0) << "t " << t << " channel " << c;
      } else {
        past += std::fabs(g);
      }
    }
  EXPECT_GT(past, 0.0);
}

TEST(Attention, SingleTokenOutputIsItsValue) {
  // T = 1: the only key is the token itself, probability 1, out = v, lse = q.k * scale.
  const int64_t B = 3, T = 1, C = 6, NH = 2, hs = 3;
  std::vector<double> qkv = randn(B * 3 * C, 230), out = zeros(B * C), lse = zeros(B * NH);
  cpu_ops().attention_forward(view(out, {B, T, C}), view(lse, {B, NH, T}), view(qkv, {B, T, 3 * C}), int(NH), int(NH),
                              Stream::host());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h) {
      double s = 0;
      for (int64_t d = 0; d < hs; ++d) {
        EXPECT_DOUBLE_EQ(out[size_t(b * C + h * hs + d)], qkv[size_t(b * 3 * C + 2 * C + h * hs + d)]);
        s += qkv[size_t(b * 3 * C + h * hs + d)] * qkv[size_t(b * 3 * C + C + h * hs + d)];
      }
      EXPECT_NEAR(lse[size_t(b * NH + h)], s / std::sqrt(double(hs)), 1e-14);
    }
}

}  // namespace
}  // namespace kernels::test

namespace kernels::test {
namespace {

// Generation's attention over a KV cache, fed a prompt of 4 tokens and then one token per call,
// gives the naive full-matrix attention's rows, and leaves each token's k and v in the caches.
TEST(AttentionCached, ChunkedFeedingMatchesNaiveFullMatrix) {
  const int64_t T = 11, C = 12, NH = 3, maxT = 16;
  const std::vector<double> qkv = randn(T * 3 * C, 202, 1.5);
  std::vector<double> want_out, want_lse;
  naive_attention(qkv, 1, T, C, NH, &want_out, &want_lse);
  std::vector<double> kc = randn(maxT * C, 203, 9.0), vc = randn(maxT * C, 204, 9.0);  // stale rows: garbage
  std::vector<double> got(size_t(T * C), 0.0);
  for (int64_t pos = 0; pos < T;) {
    const int64_t n = pos == 0 ? 4 : 1;
    std::vector<double> rows(qkv.begin() + pos * 3 * C, qkv.begin() + (pos + n) * 3 * C), out = zeros(n * C);
    cpu_ops().attention_cached_forward(view(out, {n, C}), view(rows, {n, 3 * C}), view(kc, {maxT, C}),
                                       view(vc, {maxT, C}), int(pos), int(NH), int(NH), Stream::host());
    std::copy(out.begin(), out.end(), got.begin() + pos * C);
    pos += n;
  }
  EXPECT_LT(rel_err(got, want_out), 1e-13);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) {
      EXPECT_EQ(kc[size_t(t * C + c)], qkv[size_t(t * 3 * C + C + c)]);
      EXPECT_EQ(vc[size_t(t * C + c)], qkv[size_t(t * 3 * C + 2 * C + c)]);
    }
}

TEST(AttentionCached, RefusesPositionsPastTheCache) {
  const int64_t C = 4, maxT = 3;
  std::vector<double> qkv = randn(2 * 3 * C, 205), out = zeros(2 * C), kc = zeros(maxT * C), vc = zeros(maxT * C);
  EXPECT_DEATH(cpu_ops().attention_cached_forward(view(out, {2, C}), view(qkv, {2, 3 * C}), view(kc, {maxT, C}),
                                                  view(vc, {maxT, C}), 2, 1, 1, Stream::host()),
               "do not fit the cache of 3");
}

}  // namespace
}  // namespace kernels::test
