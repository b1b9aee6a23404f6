// plot/draw_figure.cpp
// The page: title, legend (runs by colour, then the line kinds in neutral ink), and the panel grid.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "plot/draw.h"

namespace plot {
namespace {

constexpr double kMargin = 16;       // around the page, px
constexpr double kPanelGapX = 36, kPanelGapY = 28;
constexpr double kSwatchWidth = 30;  // legend sample before each name
constexpr double kItemGap = 26, kGroupGap = 48, kLegendRowHeight = 24;

// One legend entry: a run (colour chip) or a line kind (a sample of the line, in kInk).
struct LegendItem {
  std::string text;
  bool is_run = false;
  Rgb colour = kInk;
  const LineStyle* line = nullptr;  // for line kinds
  bool group_start = false;         // the first line kind: a wider gap before it
};

std::vector<LegendItem> legend_items(const Figure& f) {
  std::vector<LegendItem> items;
  for (size_t r = 0; r < f.run_labels.size(); ++r) items.push_back({f.run_labels[r], true, run_colour(r), nullptr, false});
  char ema[64];
  std::snprintf(ema, sizeof ema, "train loss, smoothed (EMA %g)", f.smoothing);
  if (f.smoothing > 0) {
    items.push_back({"train loss, raw", false, kInk, &kTrainRawStyle, true});
    items.push_back({ema, false, kInk, &kTrainSmoothedStyle, false});
  } else {
    items.push_back({"train loss", false, kInk, &kTrainSmoothedStyle, true});
  }
  items.push_back({"validation", false, kInk, &kValStyle, false});
  return items;
}

void draw_swatch(cairo_t* cr, const LegendItem& it, double x, double mid_y) {
  if (it.is_run) {
    set_colour(cr, it.colour);
    cairo_rectangle(cr, x + 4, mid_y - 6, kSwatchWidth - 8, 12);
    cairo_fill(cr);
    return;
  }
  // The raw line is faint on purpose; in the legend it is drawn at full strength at its own width,
  // or the entry explaining it would be the hardest thing on the page to see.
  LineStyle s = *it.line;
  s.alpha = std::max(s.alpha, 0.6);
  const double xs[] = {x, x + kSwatchWidth / 2, x + kSwatchWidth}, ys[] = {mid_y, mid_y, mid_y};
  stroke_line(cr, xs, ys, 3, s, it.colour);
  if (s.markers) fill_markers(cr, xs + 1, ys + 1, 1, it.colour);
}

// Lays the items out in centred rows that wrap at `width`; draws them when `draw` is set. Returns
// the height used.
double layout_legend(cairo_t* cr, const std::vector<LegendItem>& items, double left, double top, double width, bool draw) {
  set_font(cr, kLegendFont);
  struct Placed {
    const LegendItem* item;
    double x;  // relative to the row start
  };
  std::vector<std::vector<Placed>> rows(1);
  std::vector<double> row_width(1, 0);
  for (const LegendItem& it : items) {
    const std::string text = fit_text(cr, it.text, width - kSwatchWidth - 6);
    const double w = kSwatchWidth + 6 + text_width(cr, text);
    const double gap = rows.back().empty() ? 0 : (it.group_start ? kGroupGap : kItemGap);
    if (!rows.back().empty() && row_width.back() + gap + w > width) {
      rows.emplace_back();
      row_width.push_back(0);
    }
    const double x = rows.back().empty() ? 0 : row_width.back() + gap;
    rows.back().push_back({&it, x});
    row_width.back() = x + w;
  }
  if (draw) {
    for (size_t r = 0; r < rows.size(); ++r) {
      const double x0 = left + (width - row_width[r]) / 2, mid_y = top + (r + 0.5) * kLegendRowHeight;
      for (const Placed& p : rows[r]) {
        draw_swatch(cr, *p.item, x0 + p.x, mid_y);
        set_colour(cr, kInk);
        set_font(cr, kLegendFont);
        draw_text(cr, fit_text(cr, p.item->text, width - kSwatchWidth - 6), x0 + p.x + kSwatchWidth + 6, mid_y,
                  HAlign::kLeft, VAlign::kMiddle);
      }
    }
  }
  return rows.size() * kLegendRowHeight;
}

}  // namespace

void draw_figure(cairo_t* cr, const Figure& f, double canvas_width, double canvas_height) {
  set_colour(cr, kBackground);
  cairo_paint(cr);
  // style.h's sizes are for the default canvas. A bigger canvas scales the whole figure (a 3200 x
  // 2000 PNG is the same figure, sharper); a smaller one scales down no further than 3/4, or the
  // labels become unreadable: the panels get less room instead.
  const double scale = std::max(0.75, std::min(canvas_width / kDefaultWidth, canvas_height / kDefaultHeight));
  cairo_scale(cr, scale, scale);
  const double width = canvas_width / scale, height = canvas_height / scale;

  const double content_w = width - 2 * kMargin;
  set_colour(cr, kInk);
  set_font(cr, kTitleFont, /*bold=*/true);
  draw_text(cr, fit_text(cr, f.title, content_w), width / 2, kMargin, HAlign::kCenter, VAlign::kTop);

  const double legend_top = kMargin + kTitleFont + 12;
  const std::vector<LegendItem> items = legend_items(f);
  const double legend_h = layout_legend(cr, items, kMargin, legend_top, content_w, /*draw=*/true);

  // The panels share what is left, in f.columns columns.
  const double grid_top = legend_top + legend_h + 16;
  const int columns = f.columns;
  const int rows = int((f.panels.size() + columns - 1) / columns);
  const double cell_w = (content_w - (columns - 1) * kPanelGapX) / columns;
  const double cell_h = (height - kMargin - grid_top - (rows - 1) * kPanelGapY) / rows;
  double left_inset = 0;
  for (const Panel& p : f.panels) left_inset = std::max(left_inset, panel_left_inset(cr, p));
  for (size_t i = 0; i < f.panels.size(); ++i) {
    const int row = int(i) / columns, column = int(i) % columns;
    const Rect cell{kMargin + column * (cell_w + kPanelGapX), grid_top + row * (cell_h + kPanelGapY), cell_w, cell_h};
    draw_panel(cr, f.panels[i], cell, left_inset);
  }
}

}  // namespace plot
