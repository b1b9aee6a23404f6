// plot/figure.h
// What the figure shows, decided before anything is drawn: four panels (2 x 2) with their axes,
// titles and series, built from the runs. Pure data, so tests and the SVG description read the
// same Figure that plot/draw_figure.cpp paints.
//
//            | vs step (column 0)          | vs tokens (column 1)
//   row 0    | loss: raw, smoothed, val    | loss: raw, smoothed, val
//   row 1    | val perplexity              | val perplexity
//
// Panels in one column share their x axis (same range and ticks) so they line up; panels in one
// row share their y axis.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "plot/axis.h"
#include "plot/run_data.h"

namespace plot {

enum class SeriesKind { kTrainRaw, kTrainSmoothed, kVal };

struct Series {
  size_t run = 0;  // index into Figure::run_labels, which picks the colour
  SeriesKind kind = SeriesKind::kTrainRaw;
  std::vector<double> x, y;  // same length; a NaN y is a gap in the line
};

struct Panel {
  std::string title, x_title, y_title;
  Axis x, y;
  std::vector<Series> series;  // drawn in this order: raw, then smoothed, then val on top
  std::string empty_note;      // shown instead of curves when no run has data for this panel
};

struct Figure {
  std::string title;
  std::vector<std::string> run_labels;  // one per run, in command-line order
  double smoothing = 0;                 // the EMA weight used (0: the train line is the raw loss)
  int columns = 2;
  std::vector<Panel> panels;            // row-major: loss/step, loss/tokens, ppl/step, ppl/tokens
};

// Loss axes are linear: differences in nats read the same everywhere on the axis. Perplexity axes
// are logarithmic: perplexity is exp(loss), so a log axis keeps the late, small improvements as
// visible as the early drop (and makes the curve the shape of val loss, in perplexity units).
inline constexpr Scale kLossScale = Scale::kLinear;
inline constexpr Scale kPerplexityScale = Scale::kLog;

// smoothing: the EMA weight in [0, 1) (see smoothing.h); the caller validates it.
Figure build_figure(const std::vector<RunData>& runs, double smoothing);

// A plain-text account of the figure (title, runs, each panel's axes and series) for the SVG's
// <desc>: cairo draws text as glyph outlines, so without it the SVG holds no searchable words.
std::string describe_figure(const Figure& f);

}  // namespace plot
