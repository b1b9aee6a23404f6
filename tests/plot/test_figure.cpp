// tests/plot/test_figure.cpp
// The figure before drawing (plot/figure.h): which series each panel holds, shared axes.
#include <gtest/gtest.h>

#include "plot/figure.h"
#include "tests/common/test_support.h"
#include "tests/plot/plot_test_util.h"

namespace {

using plot::SeriesKind;

std::vector<plot::RunData> two_runs(const std::string& dir) {
  plot_test::write_run(dir + "/long", 40, 4);
  plot_test::write_run(dir + "/short", 10, 0);  // no eval.jsonl
  return {plot::read_run(dir + "/long"), plot::read_run(dir + "/short")};
}

int count(const plot::Panel& p, size_t run, SeriesKind k) {
  int n = 0;
  for (const plot::Series& s : p.series) n += s.run == run && s.kind == k;
  return n;
}

TEST(PlotFigure, FourPanelsWithTheirSeries) {
  const plot::Figure f = plot::build_figure(two_runs(kiln_test::scratch_dir("plot")), 0.9);
  ASSERT_EQ(f.panels.size(), 4u);
  EXPECT_EQ(f.title, "kiln training curves: long, short");
  for (const int i : {0, 1}) {  // loss panels: both runs' train lines, val only where there is eval
    const plot::Panel& p = f.panels[i];
    EXPECT_EQ(p.y_title, "loss (nats)");
    EXPECT_EQ(count(p, 0, SeriesKind::kTrainRaw), 1);
    EXPECT_EQ(count(p, 0, SeriesKind::kTrainSmoothed), 1);
    EXPECT_EQ(count(p, 0, SeriesKind::kVal), 1);
    EXPECT_EQ(count(p, 1, SeriesKind::kTrainRaw), 1);
    EXPECT_EQ(count(p, 1, SeriesKind::kTrainSmoothed), 1);
    EXPECT_EQ(count(p, 1, SeriesKind::kVal), 0);
  }
  for (const int i : {2, 3}) {  // perplexity panels: validation only
    EXPECT_EQ(f.panels[i].series.size(), 1u);
    EXPECT_EQ(count(f.panels[i], 0, SeriesKind::kVal), 1);
    EXPECT_EQ(f.panels[i].y.scale, plot::Scale::kLog);
  }
  EXPECT_EQ(f.panels[0].x_title, "step");
  EXPECT_EQ(f.panels[1].x_title, "tokens");
  // Raw lines go first so the smoothed and validation lines are drawn over them.
  EXPECT_EQ(f.panels[0].series.front().kind, SeriesKind::kTrainRaw);
  EXPECT_EQ(f.panels[0].series.back().kind, SeriesKind::kVal);
}

TEST(PlotFigure, ColumnsShareXAndRowsShareY) {
  const plot::Figure f = plot::build_figure(two_runs(kiln_test::scratch_dir("plot")), 0.9);
  EXPECT_EQ(f.panels[0].x.ticks, f.panels[2].x.ticks);
  EXPECT_EQ(f.panels[1].x.hi, f.panels[3].x.hi);
  EXPECT_EQ(f.panels[0].x.hi, 400);  // the longest run's last step
  EXPECT_EQ(f.panels[1].x.hi, 400 * 2048);
  EXPECT_EQ(f.panels[0].y.lo, f.panels[1].y.lo);
  EXPECT_EQ(f.panels[2].y.hi, f.panels[3].y.hi);
}

TEST(PlotFigure, NoSmoothingDrawsTheLossOnceAndNoEvalLeavesANote) {
  const std::string dir = kiln_test::scratch_dir("plot");
  plot_test::write_run(dir + "/r", 10, 0);
  const plot::Figure f = plot::build_figure({plot::read_run(dir + "/r")}, 0.0);
  EXPECT_EQ(count(f.panels[0], 0, SeriesKind::kTrainRaw), 0);
  EXPECT_EQ(count(f.panels[0], 0, SeriesKind::kTrainSmoothed), 1);
  EXPECT_TRUE(f.panels[2].series.empty());
  EXPECT_FALSE(f.panels[2].empty_note.empty());
  EXPECT_TRUE(f.panels[2].y.ticks.empty());
}

}  // namespace
