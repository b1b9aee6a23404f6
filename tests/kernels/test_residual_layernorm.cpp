// tests/kernels/test_residual_layernorm.cpp
// residual_layernorm_forward (kernels/ops.h) on the CPU against the two ops it fuses,
// residual_forward then layernorm_forward: bit for bit in fp32, bf16 (the sum rounded before it is
// normalised) and fp64, out of place and in place (sum replacing a, or b), at awkward shapes; and
// its argument checks naming the fused op.
#include <cstring>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

template <class E>
bool same_bits(const std::vector<E>& x, const std::vector<E>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(E)) == 0;
}

template <class E, class Stat>
void check_fused_equals_unfused(int64_t N, int64_t C) {
  const auto make = [&](int64_t n, uint64_t seed, double scale, double shift) {
    std::vector<E> v = std::vector<E>(size_t(n));
    const std::vector<double> d = randn(n, seed, scale, shift);
    for (size_t i = 0; i < v.size(); ++i) v[i] = E(float(d[i]));
    if constexpr (std::is_same_v<E, double>)
      for (size_t i = 0; i < v.size(); ++i) v[i] = d[i];
    return v;
  };
  std::vector<E> a = make(N * C, 1, 2.0, 0.5), r = make(N * C, 2, 1.0, 0.0), w = make(C, 3, 0.2, 1.0),
                 b = make(C, 4, 0.1, 0.0);
  std::vector<E> sum1 = std::vector<E>(size_t(N * C)), out1 = sum1, sum2 = sum1, out2 = sum1;
  std::vector<Stat> mean1 = std::vector<Stat>(size_t(N)), rstd1 = mean1, mean2 = mean1, rstd2 = mean1;
  const Stream h = Stream::host();
  cpu_ops().residual_layernorm_forward(view(sum1, {N, C}), view(out1, {N, C}), view(mean1, {N}), view(rstd1, {N}),
                                       view(a, {N, C}), view(r, {N, C}), view(w, {C}), view(b, {C}), h);
  cpu_ops().residual_forward(view(sum2, {N, C}), view(a, {N, C}), view(r, {N, C}), h);
  cpu_ops().layernorm_forward(view(out2, {N, C}), view(mean2, {N}), view(rstd2, {N}), view(sum2, {N, C}),
                              view(w, {C}), view(b, {C}), h);
  EXPECT_TRUE(same_bits(sum1, sum2)) << "sum " << N << "x" << C;
  EXPECT_TRUE(same_bits(out1, out2)) << "out " << N << "x" << C;
  EXPECT_TRUE(same_bits(mean1, mean2)) << "mean";
  EXPECT_TRUE(same_bits(rstd1, rstd2)) << "rstd";
  // The sum really is a + b (not a alone): some element differs from a.
  EXPECT_FALSE(same_bits(sum1, a));
  // In place: the stream a (then b) replaced by the sum.
  for (int which = 0; which < 2; ++which) {
    std::vector<E> stream = which == 0 ? a : r, other = which == 0 ? r : a, out3 = std::vector<E>(size_t(N * C));
    std::vector<Stat> mean3 = std::vector<Stat>(size_t(N)), rstd3 = mean3;
    cpu_ops().residual_layernorm_forward(view(stream, {N, C}), view(out3, {N, C}), view(mean3, {N}), view(rstd3, {N}),
                                         which == 0 ? view(stream, {N, C}) : view(other, {N, C}),
                                         which == 0 ? view(other, {N, C}) : view(stream, {N, C}), view(w, {C}),
                                         view(b, {C}), h);
    EXPECT_TRUE(same_bits(stream, sum2)) << "in place sum, aliasing " << (which == 0 ? "a" : "b");
    EXPECT_TRUE(same_bits(out3, out2)) << "in place out";
  }
}

TEST(ResidualLayernorm, FusedEqualsUnfusedBitForBit) {
  check_fused_equals_unfused<float, float>(64, 768);
  check_fused_equals_unfused<float, float>(33, 771);  // C not a multiple of any vector width
  check_fused_equals_unfused<bf16, float>(17, 96);
  check_fused_equals_unfused<double, double>(5, 13);
}

TEST(ResidualLayernormDeathTest, BadArgumentsNameTheFusedOp) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<float> x(8), y(8), mean(2), rstd(2), w(4), b(4), w3(3);
  const Stream h = Stream::host();
  EXPECT_EXIT(cpu_ops().residual_layernorm_forward(view(x, {2, 4}), view(x, {2, 4}), view(mean, {2}), view(rstd, {2}),
                                                   view(x, {2, 4}), view(y, {2, 4}), view(w, {4}), view(b, {4}), h),
              ::testing::ExitedWithCode(1), "residual_layernorm_forward: out must not overlap sum");
  std::vector<float> out(8);
  EXPECT_EXIT(cpu_ops().residual_layernorm_forward(view(x, {2, 4}), view(out, {2, 4}), view(mean, {2}),
                                                   view(rstd, {2}), view(x, {2, 4}), view(y, {2, 4}), view(w3, {3}),
                                                   view(b, {4}), h),
              ::testing::ExitedWithCode(1), "residual_layernorm_forward: weight has shape \\(3\\), expected \\(4\\)");
}

}  // namespace
}  // namespace kernels::test
