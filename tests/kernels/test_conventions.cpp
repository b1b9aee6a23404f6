// tests/kernels/test_conventions.cpp
// The op-table contract beyond the math (kernels/ops.h): which outputs ACCUMULATE (parameter
// grads, layernorm dx, sum_squares) and which are OVERWRITTEN (everything else), optional
// arguments, in-place softmax_xent, mixed fp32-grad / bf16-activation calls, and the error
// messages for bad shapes and dtypes. Runs through cpu::kOps in fp32.
// Method: run once into zeroed outputs (G), once into prefilled ones. Accumulated outputs must
// equal prefill + G; overwritten outputs are prefilled with NaN and must equal G exactly.
#include <cmath>
#include <limits>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

const Stream kHost = Stream::host();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> randf(int64_t n, uint64_t seed, double scale = 1.0) { return convert<float>(randn(n, seed, scale)); }
std::vector<float> nans(int64_t n) { return std::vector<float>(size_t(n), kNaN); }
std::vector<float> zerosf(int64_t n) { return std::vector<float>(size_t(n), 0.f); }

void expect_overwritten(const char* name, const std::vector<float>& got, const std::vector<float>& fresh) {
  ASSERT_EQ(got.size(), fresh.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], fresh[i]) << name << "[" << i << "]: not overwritten (NaN prefill leaked?)";
  }
}

void expect_accumulated(const char* name, const std::vector<float>& got, const std::vector<float>& prefill,
                        const std::vector<float>& fresh) {
  std::vector<double> want(prefill.size());
  for (size_t i = 0; i < want.size(); ++i) want[i] = double(prefill[i]) + double(fresh[i]);
  EXPECT_LT(rel_err(got, want), 1e-6) << name << " should be prefill + gradient";
}

TEST(Conventions, EmbeddingBackwardAccumulates) {
  const int64_t B = 2, T = 3, C = 4, V = 5;
  std::vector<int32_t> tok = {1, 2, 1, 4, 0, 1};
  std::vector<float> dout = randf(B * T * C, 1);
  auto run = [&](std::vector<float> dwte, std::vector<float> dwpe) {
    cpu_ops().embedding_backward(view(dwte, {V, C}), view(dwpe, {T, C}), view(dout, {B, T, C}), view(tok, {B, T}), 0,
                                 kHost);
    return std::pair{dwte, dwpe};
  };
  const auto [g_wte, g_wpe] = run(zerosf(V * C), zerosf(T * C));
  const std::vector<float> p_wte = randf(V * C, 2), p_wpe = randf(T * C, 3);
  const auto [r_wte, r_wpe] = run(p_wte, p_wpe);
  expect_accumulated("dwte", r_wte, p_wte, g_wte);
  expect_accumulated("dwpe", r_wpe, p_wpe, g_wpe);
  // Token 1 appears three times: its row is the sum of three dout rows.
  for (int64_t c = 0; c < C; ++c)
    EXPECT_FLOAT_EQ(g_wte[size_t(1 * C + c)], dout[size_t(0 * C + c)] + dout[size_t(2 * C + c)] + dout[size_t(5 * C + c)]);
}

TEST(Conventions, LayernormBackwardAccumulatesAll) {
  const int64_t N = 6, C = 16;
  std::vector<float> x = randf(N * C, 10), w = randf(C, 11), b = randf(C, 12), dout = randf(N * C, 13);
  std::vector<float> out = nans(N * C), mean = nans(N), rstd = nans(N);
  cpu_ops().layernorm_forward(view(out, {N, C}), view(mean, {N}), view(rstd, {N}), view(x, {N, C}), view(w, {C}),
                              view(b, {C}), kHost);
  for (float v : out) ASSERT_TRUE(std::isfinite(v)) << "forward output must be overwritten";
  auto run = [&](std::vector<float> dx, std::vector<float> dw, std::vector<float> db) {
    cpu_ops().layernorm_backward(view(dx, {N, C}), view(dw, {C}), view(db, {C}), view(dout, {N, C}), view(x, {N, C}),
                                 view(w, {C}), view(mean, {N}), view(rstd, {N}), kHost);
    return std::tuple{dx, dw, db};
  };
  const auto [gx, gw, gb] = run(zerosf(N * C), zerosf(C), zerosf(C));
  const std::vector<float> px = randf(N * C, 14), pw = randf(C, 15), pb = randf(C, 16);
  const auto [rx, rw, rb] = run(px, pw, pb);
  expect_accumulated("dx", rx, px, gx);
  expect_accumulated("dweight", rw, pw, gw);
  expect_accumulated("dbias", rb, pb, gb);
}

TEST(Conventions, LayernormBackwardAccumulatesIntoBf16Dx) {
  // dx in bf16 is read (widened), accumulated in fp32 and rounded once: bf16(prefill + g).
  const int64_t N = 4, C = 8;
  std::vector<float> x = from_low(to_low<bf16>(randf(N * C, 17))), w = from_low(to_low<bf16>(randf(C, 18)));
  std::vector<float> dout = from_low(to_low<bf16>(randf(N * C, 19))), b = zerosf(C), y = zerosf(N * C);
  std::vector<float> mean = zerosf(N), rstd = zerosf(N);
  cpu_ops().layernorm_forward(view(y, {N, C}), view(mean, {N}), view(rstd, {N}), view(x, {N, C}), view(w, {C}),
                              view(b, {C}), kHost);
  const std::vector<float> prefill = from_low(to_low<bf16>(randf(N * C, 20)));
  std::vector<float> dx32 = prefill, dw = zerosf(C), db = zerosf(C);
  cpu_ops().layernorm_backward(view(dx32, {N, C}), view(dw, {C}), view(db, {C}), view(dout, {N, C}), view(x, {N, C}),
                               view(w, {C}), view(mean, {N}), view(rstd, {N}), kHost);
  std::vector<bf16> dx16 = to_low<bf16>(prefill), x16 = to_low<bf16>(x), w16 = to_low<bf16>(w), d16 = to_low<bf16>(dout);
  std::vector<float> dw2 = zerosf(C), db2 = zerosf(C);
  cpu_ops().layernorm_backward(view(dx16, {N, C}), view(dw2, {C}), view(db2, {C}), view(d16, {N, C}),
                               view(x16, {N, C}), view(w16, {C}), view(mean, {N}), view(rstd, {N}), kHost);
  expect_overwritten("bf16 dx = bf16(prefill + g)", from_low(dx16), from_low(to_low<bf16>(dx32)));
}

TEST(Conventions, MatmulBackwardOverwritesDinpAccumulatesParams) {
  const int64_t N = 7, IC = 5, OC = 3;
  std::vector<float> inp = randf(N * IC, 20), w = randf(OC * IC, 21), dout = randf(N * OC, 22);
  auto run = [&](std::vector<float> dinp, std::vector<float> dw, std::vector<float> db) {
    cpu_ops().matmul_backward(view(dinp, {N, IC}), view(dw, {OC, IC}), view(db, {OC}), view(dout, {N, OC}),
                              view(inp, {N, IC}), view(w, {OC, IC}), kHost);
    return std::tuple{dinp, dw, db};
  };
  const auto [gi, gw, gb] = run(zerosf(N * IC), zerosf(OC * IC), zerosf(OC));
  const std::vector<float> pw = randf(OC * IC, 23), pb = randf(OC, 24);
  const auto [ri, rw, rb] = run(nans(N * IC), pw, pb);
  expect_overwritten("dinp", ri, gi);
  expect_accumulated("dweight", rw, pw, gw);
  expect_accumulated("dbias", rb, pb, gb);

  // Optional dinp and dbias: dweight must come out the same without them.
  std::vector<float> dw_only = zerosf(OC * IC);
  cpu_ops().matmul_backward(Tensor{}, view(dw_only, {OC, IC}), Tensor{}, view(dout, {N, OC}), view(inp, {N, IC}),
                            view(w, {OC, IC}), kHost);
  expect_overwritten("dweight without dinp/dbias", dw_only, gw);
}

TEST(Conventions, MatmulForwardOverwritesAndBiasIsOptional) {
  const int64_t N = 4, IC = 6, OC = 5;
  std::vector<float> inp = randf(N * IC, 30), w = randf(OC * IC, 31), zero_bias = zerosf(OC);
  std::vector<float> with_bias = nans(N * OC), without = nans(N * OC);
  cpu_ops().matmul_forward(view(with_bias, {N, OC}), view(inp, {N, IC}), view(w, {OC, IC}), view(zero_bias, {OC}), kHost);
  cpu_ops().matmul_forward(view(without, {N, OC}), view(inp, {N, IC}), view(w, {OC, IC}), Tensor{}, kHost);
  expect_overwritten("out without bias", without, with_bias);
}

TEST(Conventions, AttentionGeluSoftmaxOverwrite) {
  const int64_t B = 1, T = 5, C = 8, NH = 2;
  std::vector<float> qkv = randf(B * T * 3 * C, 40), dout = randf(B * T * C, 41);
  std::vector<float> out = nans(B * T * C), lse = nans(B * NH * T);
  cpu_ops().attention_forward(view(out, {B, T, C}), view(lse, {B, NH, T}), view(qkv, {B, T, 3 * C}), int(NH), int(NH), kHost);
  for (float v : out) ASSERT_TRUE(std::isfinite(v));
  for (float v : lse) ASSERT_TRUE(std::isfinite(v));
  auto attn_bwd = [&](std::vector<float> dqkv) {
    cpu_ops().attention_backward(view(dqkv, {B, T, 3 * C}), view(dout, {B, T, C}), view(qkv, {B, T, 3 * C}),
                                 view(out, {B, T, C}), view(lse, {B, NH, T}), int(NH), int(NH), kHost);
    return dqkv;
  };
  expect_overwritten("dqkv", attn_bwd(nans(B * T * 3 * C)), attn_bwd(zerosf(B * T * 3 * C)));

  const int64_t n = 33;
  std::vector<float> x = randf(n, 42), d = randf(n, 43), g1 = zerosf(n), g2 = nans(n);
  cpu_ops().gelu_backward(view(g1, {n}), view(d, {n}), view(x, {n}), kHost);
  cpu_ops().gelu_backward(view(g2, {n}), view(d, {n}), view(x, {n}), kHost);
  expect_overwritten("gelu dinp", g2, g1);

  const int64_t R = 3, V = 6;
  std::vector<float> logits = randf(R * V, 44);
  std::vector<int32_t> tgt = {2, -1, 0};
  std::vector<float> l1 = zerosf(R), l2 = nans(R), d1 = zerosf(R * V), d2 = nans(R * V);
  cpu_ops().softmax_xent(view(l1, {R}), view(d1, {R, V}), view(logits, {R, V}), view(tgt, {R}), 5, 1.f, kHost);
  cpu_ops().softmax_xent(view(l2, {R}), view(d2, {R, V}), view(logits, {R, V}), view(tgt, {R}), 5, 1.f, kHost);
  expect_overwritten("losses", l2, l1);
  expect_overwritten("dlogits", d2, d1);
  EXPECT_EQ(l1[1], 0.f) << "ignored target has loss 0";
}

TEST(Conventions, SoftmaxXentInPlaceMatchesSeparate) {
  const int64_t R = 4, V = 9, Vr = 7;
  std::vector<int32_t> tgt = {6, 0, -1, 3};
  for (DType dt : {DType::F32, DType::BF16}) {
    std::vector<float> logits = randf(R * V, 50, 3.0);
    if (dt == DType::BF16) logits = from_low(to_low<bf16>(logits));  // exact in both dtypes
    std::vector<float> loss_sep = zerosf(R), dl_sep = zerosf(R * V), loss_inp = zerosf(R);
    cpu_ops().softmax_xent(view(loss_sep, {R}), view(dl_sep, {R, V}), view(logits, {R, V}), view(tgt, {R}), int(Vr),
                           0.25f, kHost);
    std::vector<float> inplace_f32 = logits;
    std::vector<bf16> inplace_bf16 = to_low<bf16>(logits);
    Tensor buf = dt == DType::F32 ? view(inplace_f32, {R, V}) : view(inplace_bf16, {R, V});
    cpu_ops().softmax_xent(view(loss_inp, {R}), buf, buf, view(tgt, {R}), int(Vr), 0.25f, kHost);
    expect_overwritten("losses (in place)", loss_inp, loss_sep);
    if (dt == DType::F32) expect_overwritten("dlogits (in place)", inplace_f32, dl_sep);
    else expect_overwritten("dlogits (in place, bf16)", from_low(inplace_bf16), from_low(to_low<bf16>(dl_sep)));
  }
}

TEST(Conventions, SumSquaresAccumulatesInDouble) {
  std::vector<float> x = {1.f, -2.f, 3.f};
  std::vector<float> acc = {0.5f};
  cpu_ops().sum_squares(view(acc, {1}), view(x, {3}), kHost);
  EXPECT_EQ(acc[0], 14.5f);
  std::vector<bf16> xb = to_low<bf16>(x);
  cpu_ops().sum_squares(view(acc, {1}), view(xb, {3}), kHost);
  EXPECT_EQ(acc[0], 28.5f) << "a second call adds to the first (bf16 input)";
  // 2^24 ones: an fp32 running sum would stall at 2^24 = 16777216 long before the end, a double
  // accumulator does not. 2^25 elements total, exact answer 2^25.
  std::vector<float> ones(size_t(1) << 25, 1.f);
  std::vector<double> acc64 = {0.0};
  cpu_ops().sum_squares(view(acc64, {1}), view(ones, {int64_t(ones.size())}), kHost);
  EXPECT_EQ(acc64[0], double(1 << 25));
  // Random values: an fp32 accumulator would be off by ~1e-6 relative, double by ~1e-15.
  const std::vector<float> r = convert<float>(randn(100000, 5, 3.0));
  std::vector<float> rc = r;
  double want = 0;
  for (float v : r) want += double(v) * double(v);
  std::vector<double> got = {0.0};
  cpu_ops().sum_squares(view(got, {1}), view(rc, {int64_t(rc.size())}), kHost);
  EXPECT_NEAR(got[0], want, want * 1e-12);
}

TEST(Conventions, MixedFp32GradsWithBf16Activations) {
  // The bf16 training path: activations bf16, parameter grads fp32. Expected: the fp32 kernel on
  // the bf16 values, dinp rounded to bf16, dweight/dbias left in fp32 (bit-exact).
  const int64_t N = 9, IC = 12, OC = 7;
  const std::vector<float> inp = from_low(to_low<bf16>(randf(N * IC, 60)));
  const std::vector<float> w = from_low(to_low<bf16>(randf(OC * IC, 61)));
  const std::vector<float> dout = from_low(to_low<bf16>(randf(N * OC, 62)));
  std::vector<float> inp32 = inp, w32 = w, dout32 = dout, dinp32 = zerosf(N * IC);
  std::vector<float> dw32 = randf(OC * IC, 63), db32 = randf(OC, 64);
  std::vector<float> dw_mixed = dw32, db_mixed = db32;
  cpu_ops().matmul_backward(view(dinp32, {N, IC}), view(dw32, {OC, IC}), view(db32, {OC}), view(dout32, {N, OC}),
                            view(inp32, {N, IC}), view(w32, {OC, IC}), kHost);
  std::vector<bf16> inp16 = to_low<bf16>(inp), w16 = to_low<bf16>(w), dout16 = to_low<bf16>(dout);
  std::vector<bf16> dinp16(size_t(N * IC));
  cpu_ops().matmul_backward(view(dinp16, {N, IC}), view(dw_mixed, {OC, IC}), view(db_mixed, {OC}),
                            view(dout16, {N, OC}), view(inp16, {N, IC}), view(w16, {OC, IC}), kHost);
  expect_overwritten("dinp (bf16)", from_low(dinp16), from_low(to_low<bf16>(dinp32)));
  expect_overwritten("dweight (fp32, bf16 inputs)", dw_mixed, dw32);
  expect_overwritten("dbias (fp32, bf16 inputs)", db_mixed, db32);
}

// Bad calls end the process through kernels::fail() (exit 1) with a message naming the op and
// the argument. "threadsafe" death tests re-run the binary, which is safe with OpenMP threads.
TEST(ConventionsDeathTest, BadShapesAndDtypesFailWithClearMessages) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<float> inp = zerosf(4 * 3), w = zerosf(2 * 5), out = zerosf(4 * 2);
  EXPECT_EXIT(cpu_ops().matmul_forward(view(out, {4, 2}), view(inp, {4, 3}), view(w, {2, 5}), Tensor{}, kHost),
              ::testing::ExitedWithCode(1), "matmul_forward: weight \\(2, 5\\) does not take IC=3");
  std::vector<double> out64 = zeros(8), w64 = zeros(6);
  EXPECT_EXIT(cpu_ops().matmul_forward(view(out64, {4, 2}), view(inp, {4, 3}), view(w64, {2, 3}), Tensor{}, kHost),
              ::testing::ExitedWithCode(1), "fp64 tensors cannot be mixed");
  std::vector<float> logits = zerosf(2 * 4), losses = zerosf(2);
  std::vector<int32_t> tgt = {0, 3};
  EXPECT_EXIT(cpu_ops().softmax_xent(view(losses, {2}), Tensor{}, view(logits, {2, 4}), view(tgt, {2}), 3, 1.f, kHost),
              ::testing::ExitedWithCode(1), "target 3 at row 1 is not below vocab_real=3");
  std::vector<bf16> mean16(2);
  std::vector<float> x = zerosf(2 * 4), rstd = zerosf(2), g = zerosf(4), b = zerosf(4), y = zerosf(2 * 4);
  EXPECT_EXIT(cpu_ops().layernorm_forward(view(y, {2, 4}), view(mean16, {2}), view(rstd, {2}), view(x, {2, 4}),
                                          view(g, {4}), view(b, {4}), kHost),
              ::testing::ExitedWithCode(1), "mean \\(a statistic/loss\\) must be fp32, got bf16");
}

}  // namespace
}  // namespace kernels::test
