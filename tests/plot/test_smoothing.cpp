// tests/plot/test_smoothing.cpp
// The debiased EMA against values computed by hand from
//   m_i = w m_{i-1} + (1 - w) y_i,  m_0 = 0,  s_i = m_i / (1 - w^i).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "plot/smoothing.h"

namespace {

TEST(PlotSmoothing, DebiasedEmaOnAKnownSequence) {
  // w = 0.5, y = 1, 2, 3:
  //   m1 = 0.5              s1 = 0.5 / 0.5     = 1
  //   m2 = 0.25 + 1 = 1.25  s2 = 1.25 / 0.75   = 5/3
  //   m3 = 0.625 + 1.5      s3 = 2.125 / 0.875 = 17/7
  const std::vector<double> s = plot::smooth_ema_debiased({1, 2, 3}, 0.5);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0], 1.0);
  EXPECT_DOUBLE_EQ(s[1], 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(s[2], 17.0 / 7.0);
}

TEST(PlotSmoothing, FirstValueIsUnbiasedAtTheDefaultWeight) {
  // w = 0.9, y = 10, 0: m1 = 1, s1 = 1 / 0.1 = 10 (no pull towards 0); m2 = 0.9, s2 = 0.9 / 0.19 = 90/19.
  const std::vector<double> s = plot::smooth_ema_debiased({10, 0}, 0.9);
  EXPECT_NEAR(s[0], 10.0, 1e-12);
  EXPECT_NEAR(s[1], 90.0 / 19.0, 1e-12);
}

TEST(PlotSmoothing, ZeroWeightIsTheRawSequence) {
  const std::vector<double> y = {5.5, 3.2, 2.9, 3.1};
  EXPECT_EQ(plot::smooth_ema_debiased(y, 0.0), y);
}

TEST(PlotSmoothing, NonFiniteValuesPassThroughAndAreSkipped) {
  // w = 0.5, y = 1, NaN, 3: the NaN stays a gap; 3 is the second value seen:
  //   m = 0.25 + 1.5 = 1.75, s = 1.75 / (1 - 0.25) = 7/3.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> s = plot::smooth_ema_debiased({1, nan, 3}, 0.5);
  EXPECT_DOUBLE_EQ(s[0], 1.0);
  EXPECT_TRUE(std::isnan(s[1]));
  EXPECT_DOUBLE_EQ(s[2], 7.0 / 3.0);
}

}  // namespace
