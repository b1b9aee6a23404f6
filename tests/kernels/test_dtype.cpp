// tests/kernels/test_dtype.cpp
// bf16/fp16 conversions (kernels/dtype.h) and the cast op built on them: round to nearest with
// ties to even, overflow, subnormals, NaN, exhaustive round trips of all 65536 bit patterns, and
// double -> bf16/fp16 rounded once (not twice through float).
// Cases are written as bit patterns so that "which neighbour" is unambiguous.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

float from_bits(uint32_t u) { return bits_float(u); }

struct Case {
  uint32_t f32;   // input float bits
  uint16_t want;  // expected 16-bit pattern
  const char* why;
};

TEST(Dtype, Bf16RoundsToNearestEven) {
  const Case cases[] = {
      {0x3f800000u, 0x3f80, "1.0 exact"},
      {0x3f808000u, 0x3f80, "1 + 2^-8: tie, 0x3f80 is even"},
      {0x3f818000u, 0x3f82, "1 + 3*2^-8: tie, rounds up to even 0x3f82"},
      {0x3f808001u, 0x3f81, "just above the tie rounds up"},
      {0x3f807fffu, 0x3f80, "just below the tie rounds down"},
      {0xbf818000u, 0xbf82, "negative tie, to even"},
      {0x80000000u, 0x8000, "-0 keeps its sign"},
      {0x7f800000u, 0x7f80, "+inf"},
      {0xff800000u, 0xff80, "-inf"},
      {0x7f7fffffu, 0x7f80, "FLT_MAX rounds past the largest bf16: inf"},
      {0x7f7f7fffu, 0x7f7f, "below that tie: largest finite bf16"},
      {0x00000001u, 0x0000, "smallest float subnormal rounds to 0"},
      {0x00008000u, 0x0000, "subnormal tie, to even 0"},
      {0x00018000u, 0x0002, "subnormal tie, odd 1 rounds to 2"},
      {0x00008001u, 0x0001, "subnormal above the tie"},
      {0x00010000u, 0x0001, "smallest bf16 subnormal exact"},
      {0x00800000u, 0x0080, "smallest normal exact"},
  };
  for (const Case& c : cases) EXPECT_EQ(bf16(from_bits(c.f32)).bits, c.want) << c.why;
}

TEST(Dtype, Bf16NaNStaysNaN) {
  // A signalling NaN whose payload lives only in the low 16 bits would truncate to inf.
  for (uint32_t nan_bits : {0x7f800001u, 0x7fc00000u, 0xffc00000u, 0x7f80ffffu}) {
    const bf16 b(from_bits(nan_bits));
    EXPECT_TRUE(std::isnan(float(b))) << std::hex << nan_bits;
    EXPECT_EQ(b.bits & 0x8000, (nan_bits >> 16) & 0x8000) << "sign kept";
  }
}

TEST(Dtype, Fp16RoundsToNearestEven) {
  const Case cases[] = {
      {0x3f800000u, 0x3c00, "1.0 exact"},
      {0x3f801000u, 0x3c00, "1 + 2^-11: tie, to even"},
      {0x3f803000u, 0x3c02, "1 + 3*2^-11: tie, up to even"},
      {0x3f801001u, 0x3c01, "above the tie"},
      {0x477fe000u, 0x7bff, "65504, the largest fp16"},
      {0x477fefffu, 0x7bff, "just below 65520 stays finite"},
      {0x477ff000u, 0x7c00, "65520: tie with odd 65504, rounds to inf"},
      {0x49742400u, 0x7c00, "1e6 overflows to inf"},
      {0xc9742400u, 0xfc00, "-1e6 overflows to -inf"},
      {0x7f800000u, 0x7c00, "+inf"},
      {0x38800000u, 0x0400, "2^-14, smallest normal"},
      {0x387fe000u, 0x0400, "1023.5 * 2^-24: tie between the largest subnormal and 2^-14, to even"},
      {0x387fc000u, 0x03ff, "1023 * 2^-24, the largest subnormal, exact"},
      {0x387fa000u, 0x03fe, "1022.5 * 2^-24: subnormal tie, to even 1022"},
      {0x33800000u, 0x0001, "2^-24, smallest subnormal"},
      {0x33000000u, 0x0000, "2^-25: tie with 0, to even 0"},
      {0x33000001u, 0x0001, "just above 2^-25"},
      {0x33c00000u, 0x0002, "3 * 2^-25 = 1.5 ulp: tie, to even 2"},
      {0x32800000u, 0x0000, "2^-26 rounds to 0"},
      {0x80000000u, 0x8000, "-0"},
      {0xb3800000u, 0x8001, "-2^-24"},
  };
  for (const Case& c : cases) EXPECT_EQ(fp16(from_bits(c.f32)).bits, c.want) << c.why;
  for (uint32_t nan_bits : {0x7f800001u, 0x7fc00000u, 0xffc00000u}) EXPECT_TRUE(std::isnan(float(fp16(from_bits(nan_bits)))));
  EXPECT_EQ(float(fp16::to_float(0x0001)), std::ldexp(1.0f, -24));
  EXPECT_EQ(float(fp16::to_float(0x8001)), -std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16::to_float(0x7bff), 65504.f);
  EXPECT_EQ(fp16::to_float(0x7c00), std::numeric_limits<float>::infinity());
}

// Every 16-bit pattern that is not NaN survives 16 -> float -> 16 unchanged.
template <class Low>
void expect_all_patterns_round_trip(uint16_t exp_mask) {
  int checked = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    Low x;
    x.bits = uint16_t(b);
    const float f = float(x);
    const bool is_nan = (b & exp_mask) == exp_mask && (b & ~exp_mask & 0x7fffu) != 0;
    if (is_nan) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      continue;
    }
    ASSERT_EQ(Low(f).bits, uint16_t(b)) << "pattern 0x" << std::hex << b << " -> " << f;
    ++checked;
  }
  EXPECT_GT(checked, 63000);  // 65536 minus the NaN patterns
}

TEST(Dtype, AllBf16PatternsRoundTrip) { expect_all_patterns_round_trip<bf16>(0x7f80); }
TEST(Dtype, AllFp16PatternsRoundTrip) { expect_all_patterns_round_trip<fp16>(0x7c00); }

// ---- the cast op ------------------------------------------------------------------------------

TEST(Cast, Fp32ToLowMatchesScalarConversion) {
  const int64_t n = 100000;  // above the OpenMP threshold
  std::vector<float> src = convert<float>(randn(n, 90, 1000.0));
  src[0] = 70000.f;  // fp16 overflow
  src[1] = std::ldexp(1.f, -25);
  std::vector<bf16> b(static_cast<size_t>(n));
  std::vector<fp16> h(static_cast<size_t>(n));
  cpu_ops().cast(view(b, {n}), view(src, {n}), Stream::host());
  cpu_ops().cast(view(h, {n}), view(src, {n}), Stream::host());
  for (size_t i = 0; i < size_t(n); ++i) {
    ASSERT_EQ(b[i].bits, bf16(src[i]).bits) << i;
    ASSERT_EQ(h[i].bits, fp16(src[i]).bits) << i;
  }
  EXPECT_EQ(h[0].bits, 0x7c00) << "70000 -> fp16 inf";
}

TEST(Cast, Fp64ToLowRoundsOnce) {
  // Each double sits just off a bf16/fp16 tie; rounding to float first would land exactly on the
  // tie and then go to even, the wrong way.
  std::vector<double> src = {1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30),      // above tie  -> 0x3f81
                             1.0 + 3 * std::ldexp(1.0, -8) - std::ldexp(1.0, -30),  // below tie  -> 0x3f81
                             1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40),     // fp16 above -> 0x3c01
                             -(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30))};
  std::vector<bf16> b(src.size());
  std::vector<fp16> h(src.size());
  cpu_ops().cast(view(b, {4}), view(src, {4}), Stream::host());
  cpu_ops().cast(view(h, {4}), view(src, {4}), Stream::host());
  EXPECT_EQ(b[0].bits, 0x3f81);
  EXPECT_EQ(b[1].bits, 0x3f81);
  EXPECT_EQ(b[3].bits, 0xbf81);
  EXPECT_EQ(h[2].bits, 0x3c01);
  EXPECT_EQ(bf16(float(src[0])).bits, 0x3f80) << "what double rounding would give (the case is real)";
  EXPECT_EQ(bf16(float(src[1])).bits, 0x3f82);
  // The helper itself: exact values pass through, inexact ones get the sticky bit.
  EXPECT_EQ(cpu::double_to_float_round_odd(0.5), 0.5f);
  EXPECT_TRUE(std::isnan(cpu::double_to_float_round_odd(std::nan(""))));
  EXPECT_EQ(cpu::double_to_float_round_odd(1e300), std::numeric_limits<float>::infinity());
}

TEST(Cast, WideningIsExactAndNarrowingToFp32RoundsToNearest) {
  std::vector<fp16> h = {fp16(0.1f), fp16(-65504.f), fp16(std::ldexp(1.f, -24))};
  std::vector<double> d(3);
  cpu_ops().cast(view(d, {3}), view(h, {3}), Stream::host());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(d[i], double(float(h[i])));
  std::vector<double> src = {0.1, 1.0 / 3.0};
  std::vector<float> f(2);
  cpu_ops().cast(view(f, {2}), view(src, {2}), Stream::host());
  EXPECT_EQ(f[0], 0.1f);
  EXPECT_EQ(f[1], 1.0f / 3.0f);
  std::vector<bf16> b(3);
  cpu_ops().cast(view(b, {3}), view(h, {3}), Stream::host());  // fp16 -> bf16 (through float)
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(b[i].bits, bf16(float(h[i])).bits);
  std::vector<float> copy(2);
  cpu_ops().cast(view(copy, {2}), view(f, {2}), Stream::host());  // same dtype: a copy
  EXPECT_EQ(copy, f);
}

}  // namespace
}  // namespace kernels::test
