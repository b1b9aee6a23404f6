// plot/figure.cpp
// Runs -> the four panels of the figure (see figure.h for the grid).
#include "plot/figure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "plot/smoothing.h"

namespace plot {
namespace {

// The range of the finite y values of some series ([+inf, -inf] when there are none).
struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Which x a panel column plots: optimizer steps or tokens seen.
enum class XVar { kStep, kTokens };

double x_of(const TrainPoint& p, XVar x) { return x == XVar::kStep ? double(p.step) : double(p.tokens); }
double x_of(const EvalPoint& p, XVar x) { return x == XVar::kStep ? double(p.step) : double(p.tokens); }

Panel loss_panel(const std::vector<RunData>& runs, double smoothing, XVar xv) {
  Panel p;
  p.title = xv == XVar::kStep ? "loss vs step" : "loss vs tokens";
  p.y_title = "loss (nats)";
  // Raw under smoothed under val, across runs: the bold trends are never hidden by a faint line.
  std::vector<Series> raw, smooth, val;
  for (size_t r = 0; r < runs.size(); ++r) {
    Series s{r, SeriesKind::kTrainRaw, {}, {}};
    for (const TrainPoint& t : runs[r].train) {
      s.x.push_back(x_of(t, xv));
      s.y.push_back(t.loss);
    }
    Series sm{r, SeriesKind::kTrainSmoothed, s.x, smooth_ema_debiased(s.y, smoothing)};
    // Without smoothing the bold line is the raw loss: a faint copy under it would add nothing.
    if (smoothing > 0) raw.push_back(std::move(s));
    smooth.push_back(std::move(sm));
    if (runs[r].eval.empty()) continue;
    Series v{r, SeriesKind::kVal, {}, {}};
    for (const EvalPoint& e : runs[r].eval) {
      v.x.push_back(x_of(e, xv));
      v.y.push_back(e.val_loss);
    }
    val.push_back(std::move(v));
  }
  for (auto* group : {&raw, &smooth, &val})
    for (Series& s : *group) p.series.push_back(std::move(s));
  return p;
}

Panel perplexity_panel(const std::vector<RunData>& runs, XVar xv) {
  Panel p;
  p.title = xv == XVar::kStep ? "val perplexity vs step" : "val perplexity vs tokens";
  p.y_title = "val perplexity";
  for (size_t r = 0; r < runs.size(); ++r) {
    if (runs[r].eval.empty()) continue;
    Series v{r, SeriesKind::kVal, {}, {}};
    for (const EvalPoint& e : runs[r].eval) {
      v.x.push_back(x_of(e, xv));
      v.y.push_back(e.val_perplexity);
    }
    p.series.push_back(std::move(v));
  }
  if (p.series.empty()) p.empty_note = "no evaluations (eval.jsonl missing or empty)";
  return p;
}

Range y_range(const std::vector<Panel>& row) {
  Range r;
  for (const Panel& p : row)
    for (const Series& s : p.series)
      for (const double y : s.y) r.add(y);
  return r;
}

}  // namespace

Figure build_figure(const std::vector<RunData>& runs, double smoothing) {
  Figure f;
  f.smoothing = smoothing;
  f.title = "kiln training curves: ";
  for (size_t r = 0; r < runs.size(); ++r) {
    f.run_labels.push_back(runs[r].label);
    f.title += (r ? ", " : "") + runs[r].label;
  }
  f.panels = {loss_panel(runs, smoothing, XVar::kStep), loss_panel(runs, smoothing, XVar::kTokens),
              perplexity_panel(runs, XVar::kStep), perplexity_panel(runs, XVar::kTokens)};

  // x: one axis per column, from 0 to the last step / token of any run (train or eval).
  for (const XVar xv : {XVar::kStep, XVar::kTokens}) {
    double hi = 0;
    for (const RunData& run : runs) {
      for (const TrainPoint& t : run.train) hi = std::max(hi, x_of(t, xv));
      for (const EvalPoint& e : run.eval) hi = std::max(hi, x_of(e, xv));
    }
    const Axis x = make_axis(0, hi, Scale::kLinear, /*from_zero=*/true);
    const int column = xv == XVar::kStep ? 0 : 1;
    for (size_t i = column; i < f.panels.size(); i += f.columns) {
      f.panels[i].x = x;
      f.panels[i].x_title = xv == XVar::kStep ? "step" : "tokens";
    }
  }
  // y: one axis per row. A row with no finite values (no evaluations) gets a frame without ticks:
  // numbers on an empty axis would be made up.
  for (size_t row = 0; row * f.columns < f.panels.size(); ++row) {
    std::vector<Panel> panels(f.panels.begin() + row * f.columns, f.panels.begin() + (row + 1) * f.columns);
    const Range r = y_range(panels);
    const Scale scale = row == 0 ? kLossScale : kPerplexityScale;
    const Axis y = r.empty() ? Axis{} : make_axis(r.lo, r.hi, scale, false);
    for (int c = 0; c < f.columns; ++c) f.panels[row * f.columns + c].y = y;
  }
  return f;
}

std::string describe_figure(const Figure& f) {
  static const char* kKindNames[] = {"train loss (raw)", "train loss (smoothed)", "validation"};
  std::string d = f.title + "\n";
  char buf[160];
  std::snprintf(buf, sizeof buf, "smoothing: debiased EMA, weight %g\n", f.smoothing);
  d += buf;
  for (const Panel& p : f.panels) {
    d += "panel \"" + p.title + "\": x axis \"" + p.x_title + "\", y axis \"" + p.y_title + "\"";
    d += p.y.scale == Scale::kLog ? " (log scale)\n" : "\n";
    for (const Series& s : p.series) {
      const std::string name = s.kind == SeriesKind::kTrainSmoothed && f.smoothing == 0 ? "train loss" : kKindNames[int(s.kind)];
      std::snprintf(buf, sizeof buf, ": %zu points\n", s.x.size());
      d += "  " + f.run_labels[s.run] + ", " + name + buf;
    }
    if (!p.empty_note.empty()) d += "  " + p.empty_note + "\n";
  }
  return d;
}

}  // namespace plot
