// tests/plot/test_axis.cpp
// Nice ticks on known ranges, tick labels, and axis ranges (plot/axis.h).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "plot/axis.h"

namespace {

using plot::Axis;
using plot::Scale;

// Tick values are i * step, so they equal the decimal literals to within rounding of one product.
void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 * std::max(1.0, std::fabs(want[i]))) << i;
}

std::vector<std::string> labels_of(const plot::Ticks& t) {
  std::vector<std::string> l;
  for (const double v : t.values) l.push_back(plot::format_tick(v, t.step));
  return l;
}

TEST(PlotTicks, ZeroToOneStepsByPointTwo) {
  const plot::Ticks t = plot::nice_ticks(0, 1);
  EXPECT_DOUBLE_EQ(t.step, 0.2);
  expect_ticks(t.values, {0, 0.2, 0.4, 0.6, 0.8, 1.0});
  EXPECT_EQ(labels_of(t), (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
}

TEST(PlotTicks, ZeroToAMillionStepsBy200k) {
  const plot::Ticks t = plot::nice_ticks(0, 1e6);
  EXPECT_DOUBLE_EQ(t.step, 2e5);
  expect_ticks(t.values, {0, 2e5, 4e5, 6e5, 8e5, 1e6});
  EXPECT_EQ(labels_of(t), (std::vector<std::string>{"0", "200k", "400k", "600k", "800k", "1M"}));
}

TEST(PlotTicks, StepsOfATrainingRun) {
  const plot::Ticks t = plot::nice_ticks(0, 1200);  // 1200 / 6 = 200 exactly: 200 is allowed
  EXPECT_DOUBLE_EQ(t.step, 200);
  EXPECT_EQ(labels_of(t), (std::vector<std::string>{"0", "200", "400", "600", "800", "1k", "1.2k"}));
  const plot::Ticks tokens = plot::nice_ticks(0, 2457600);  // 409.6k per interval -> 500k
  EXPECT_EQ(labels_of(tokens), (std::vector<std::string>{"0", "500k", "1M", "1.5M", "2M"}));
}

TEST(PlotTicks, RangeNotStartingAtATick) {
  // A padded loss range: the ticks are the multiples of the step inside it, never outside.
  const plot::Ticks t = plot::nice_ticks(1.65, 5.76);
  EXPECT_DOUBLE_EQ(t.step, 1);
  expect_ticks(t.values, {2, 3, 4, 5});
  const plot::Ticks neg = plot::nice_ticks(-0.6, 0.6);
  expect_ticks(neg.values, {-0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6});
  EXPECT_EQ(plot::format_tick(neg.values[3], neg.step), "0");
}

TEST(PlotTicks, LabelsUseSuffixesAndOnlyTheDecimalsTheStepNeeds) {
  EXPECT_EQ(plot::format_tick(1500, 500), "1.5k");
  EXPECT_EQ(plot::format_tick(1000, 500), "1k");
  EXPECT_EQ(plot::format_tick(800, 200), "800");
  EXPECT_EQ(plot::format_tick(2e7, 5e6), "20M");
  EXPECT_EQ(plot::format_tick(2.5e9, 5e8), "2.5B");  // tokens: billions, not giga
  EXPECT_EQ(plot::format_tick(3e12, 1e12), "3T");
  EXPECT_EQ(plot::format_tick(0.4, 0.2), "0.4");
  EXPECT_EQ(plot::format_tick(0.05, 0.01), "0.05");
  EXPECT_EQ(plot::format_tick(3 * 0.1, 0.1), "0.3");  // 0.30000000000000004
  EXPECT_EQ(plot::format_tick(-1500, 500), "-1.5k");
  EXPECT_EQ(plot::format_tick(0, 0.2), "0");
  EXPECT_EQ(plot::format_tick(12, 2), "12");
}

TEST(PlotAxis, CountsStartAtZeroAndEndAtTheData) {
  const Axis a = plot::make_axis(0, 1200, Scale::kLinear, /*from_zero=*/true);
  EXPECT_EQ(a.lo, 0);
  EXPECT_EQ(a.hi, 1200);
  EXPECT_DOUBLE_EQ(a.fraction(600), 0.5);
  EXPECT_EQ(a.labels.back(), "1.2k");
}

TEST(PlotAxis, ValuesGetAMarginAndTicksInside) {
  const Axis a = plot::make_axis(1.8, 5.6, Scale::kLinear, false);
  EXPECT_LT(a.lo, 1.8);
  EXPECT_GT(a.hi, 5.6);
  EXPECT_NEAR(a.hi - 5.6, 0.05 * 3.8, 1e-12);
  ASSERT_EQ(a.ticks.size(), a.labels.size());
  for (const double t : a.ticks) {
    EXPECT_GE(t, a.lo);
    EXPECT_LE(t, a.hi);
  }
  // One value (a run with a single evaluation) still gets a range around it.
  const Axis one = plot::make_axis(3, 3, Scale::kLinear, false);
  EXPECT_LT(one.lo, 3);
  EXPECT_GT(one.hi, 3);
  EXPECT_FALSE(one.ticks.empty());
}

TEST(PlotAxis, LogAxisOverDecadesTicksOneTwoFive) {
  const Axis a = plot::make_axis(20, 1500, Scale::kLog, false);
  EXPECT_EQ(a.scale, Scale::kLog);
  expect_ticks(a.ticks, {20, 50, 100, 200, 500, 1000});
  EXPECT_EQ(a.labels, (std::vector<std::string>{"20", "50", "100", "200", "500", "1k"}));
  EXPECT_NEAR(a.fraction(std::sqrt(a.lo * a.hi)), 0.5, 1e-12);  // equal ratios, equal distances
}

TEST(PlotAxis, LogAxisUnderADecadeStillLabelsItsLowerHalf) {
  const Axis a = plot::make_axis(6.5, 21.5, Scale::kLog, false);
  ASSERT_GE(a.ticks.size(), 4u);
  int lower_half = 0;
  for (const double t : a.ticks) lower_half += a.fraction(t) < 0.5;
  EXPECT_GE(lower_half, 2) << "ticks: " << ::testing::PrintToString(a.labels);
  EXPECT_EQ(a.labels.front(), "8");
}

TEST(PlotAxis, LogFallsBackToLinearForNonPositiveData) {
  EXPECT_EQ(plot::make_axis(0, 10, Scale::kLog, false).scale, Scale::kLinear);
}

}  // namespace
