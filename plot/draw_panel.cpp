// plot/draw_panel.cpp
// One panel: frame, grid, ticks, labels, and its series. Sizes come from style.h; everything else
// is measured (tick label widths decide where the plot area starts), so any canvas size lays out.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "plot/draw.h"

namespace plot {
namespace {

// Space around the plot area, px.
constexpr double kTickLength = 4, kLabelGap = 6, kTitleGap = 10;

// Crisp 1 px lines: cairo centres strokes on the coordinate, so a 1 px line at an integer
// coordinate covers two half pixels (grey and blurry in the PNG).
double crisp(double v) { return std::floor(v) + 0.5; }

Rect plot_area(cairo_t* cr, const Panel& p, const Rect& cell, double left) {
  set_font(cr, kTickFont);
  // The last x label is centred on the right edge: leave room for its right half.
  const double last_x_half = p.x.labels.empty() ? 0 : text_width(cr, p.x.labels.back()) / 2;
  const double top = kPanelTitleFont + kTitleGap + 4;
  const double right = std::max(12.0, last_x_half + 4);
  const double bottom = kTickLength + kLabelGap + kTickFont + kTitleGap + kAxisTitleFont + 4;
  return {cell.x + left, cell.y + top, cell.w - left - right, cell.h - top - bottom};
}

void draw_grid_and_ticks(cairo_t* cr, const Panel& p, const Rect& a) {
  cairo_set_line_width(cr, 1);
  set_colour(cr, kGrid);
  for (const double v : p.y.ticks) {
    const double y = crisp(a.bottom() - p.y.fraction(v) * a.h);
    cairo_move_to(cr, a.x, y);
    cairo_line_to(cr, a.right(), y);
  }
  for (const double v : p.x.ticks) {
    const double x = crisp(a.x + p.x.fraction(v) * a.w);
    cairo_move_to(cr, x, a.y);
    cairo_line_to(cr, x, a.bottom());
  }
  cairo_stroke(cr);

  // Frame and tick marks in one stroke.
  set_colour(cr, kMutedInk);
  cairo_rectangle(cr, crisp(a.x), crisp(a.y), std::round(a.w), std::round(a.h));
  for (const double v : p.y.ticks) {
    const double y = crisp(a.bottom() - p.y.fraction(v) * a.h);
    cairo_move_to(cr, a.x - kTickLength, y);
    cairo_line_to(cr, a.x, y);
  }
  for (const double v : p.x.ticks) {
    const double x = crisp(a.x + p.x.fraction(v) * a.w);
    cairo_move_to(cr, x, a.bottom());
    cairo_line_to(cr, x, a.bottom() + kTickLength);
  }
  cairo_stroke(cr);

  // Labels; one that would touch the previous one is left out (its grid line stays), which only
  // happens at the top of a log axis or on a very small canvas.
  set_font(cr, kTickFont);
  set_colour(cr, kMutedInk);
  double last_top = 1e300;
  for (size_t i = 0; i < p.y.ticks.size(); ++i) {
    const double y = a.bottom() - p.y.fraction(p.y.ticks[i]) * a.h;
    if (y + kTickFont / 2 + 2 > last_top) continue;
    draw_text(cr, p.y.labels[i], a.x - kTickLength - kLabelGap, y, HAlign::kRight, VAlign::kMiddle);
    last_top = y - kTickFont / 2;
  }
  double last_right = -1e300;
  for (size_t i = 0; i < p.x.ticks.size(); ++i) {
    const double x = a.x + p.x.fraction(p.x.ticks[i]) * a.w;
    const double half = text_width(cr, p.x.labels[i]) / 2;
    if (x - half < last_right + 8) continue;
    draw_text(cr, p.x.labels[i], x, a.bottom() + kTickLength + kLabelGap, HAlign::kCenter, VAlign::kTop);
    last_right = x + half;
  }
}

void draw_titles(cairo_t* cr, const Panel& p, const Rect& cell, const Rect& a) {
  set_colour(cr, kInk);
  set_font(cr, kPanelTitleFont, /*bold=*/true);
  draw_text(cr, fit_text(cr, p.title, a.w), a.x + a.w / 2, cell.y, HAlign::kCenter, VAlign::kTop);
  set_font(cr, kAxisTitleFont);
  draw_text(cr, p.x_title, a.x + a.w / 2, cell.bottom(), HAlign::kCenter, VAlign::kBottom);
  const std::string y_title = p.y.scale == Scale::kLog ? p.y_title + " (log scale)" : p.y_title;
  draw_text_vertical(cr, fit_text(cr, y_title, a.h), cell.x + kAxisTitleFont / 2, a.y + a.h / 2);
}

const LineStyle& style_of(SeriesKind k) {
  switch (k) {
    case SeriesKind::kTrainRaw: return kTrainRawStyle;
    case SeriesKind::kTrainSmoothed: return kTrainSmoothedStyle;
    case SeriesKind::kVal: break;
  }
  return kValStyle;
}

}  // namespace

void stroke_line(cairo_t* cr, const double* x, const double* y, size_t n, const LineStyle& style, Rgb colour) {
  bool pen_down = false;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
      pen_down = false;
      continue;
    }
    if (pen_down) cairo_line_to(cr, x[i], y[i]);
    else cairo_move_to(cr, x[i], y[i]);
    pen_down = true;
  }
  set_colour(cr, colour, style.alpha);
  cairo_set_line_width(cr, style.width);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  const double dash[] = {6, 4};
  cairo_set_dash(cr, dash, style.dashed ? 2 : 0, 0);
  cairo_stroke(cr);
  cairo_set_dash(cr, nullptr, 0, 0);
}

void fill_markers(cairo_t* cr, const double* x, const double* y, size_t n, Rgb colour) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    cairo_new_sub_path(cr);
    cairo_arc(cr, x[i], y[i], kMarkerRadius, 0, 2 * std::numbers::pi);
  }
  // A white ring keeps overlapping markers of different runs apart.
  set_colour(cr, colour);
  cairo_fill_preserve(cr);
  set_colour(cr, kBackground);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
}

double panel_left_inset(cairo_t* cr, const Panel& p) {
  set_font(cr, kTickFont);
  double widest_y_label = 0;
  for (const std::string& l : p.y.labels) widest_y_label = std::max(widest_y_label, text_width(cr, l));
  return kAxisTitleFont + kTitleGap + widest_y_label + kLabelGap + kTickLength;
}

void draw_panel(cairo_t* cr, const Panel& p, const Rect& cell, double left_inset) {
  const Rect a = plot_area(cr, p, cell, left_inset);
  draw_grid_and_ticks(cr, p, a);
  draw_titles(cr, p, cell, a);
  if (!p.empty_note.empty()) {
    set_colour(cr, kMutedInk);
    set_font(cr, kAxisTitleFont);
    draw_text(cr, fit_text(cr, p.empty_note, a.w - 8), a.x + a.w / 2, a.y + a.h / 2, HAlign::kCenter, VAlign::kMiddle);
    return;
  }

  // Clip a marker radius outside the frame: a point at the last step sits on the right edge and
  // its marker should show whole, while nothing else ever leaves the axis ranges.
  cairo_save(cr);
  const double m = kMarkerRadius + 1;
  cairo_rectangle(cr, a.x - m, a.y - m, a.w + 2 * m, a.h + 2 * m);
  cairo_clip(cr);
  std::vector<double> px, py;
  for (const Series& s : p.series) {
    px.resize(s.x.size());
    py.resize(s.y.size());
    for (size_t i = 0; i < s.x.size(); ++i) {
      px[i] = a.x + p.x.fraction(s.x[i]) * a.w;
      py[i] = std::isfinite(s.y[i]) ? a.bottom() - p.y.fraction(s.y[i]) * a.h : NAN;
    }
    const LineStyle& style = style_of(s.kind);
    stroke_line(cr, px.data(), py.data(), px.size(), style, run_colour(s.run));
    if (style.markers) fill_markers(cr, px.data(), py.data(), px.size(), run_colour(s.run));
  }
  cairo_restore(cr);
}

}  // namespace plot
