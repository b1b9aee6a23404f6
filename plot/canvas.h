// plot/canvas.h
// Small cairo helpers shared by the figure and panel drawing: rectangles, colours, aligned text.
// Internal to kiln_plot (it includes cairo.h, which no public header does).
#pragma once

#include <cairo.h>

#include <string>

#include "plot/style.h"

namespace plot {

struct Rect {
  double x = 0, y = 0, w = 0, h = 0;  // px, y grows downwards (cairo's device space)
  double right() const { return x + w; }
  double bottom() const { return y + h; }
};

enum class HAlign { kLeft, kCenter, kRight };
enum class VAlign { kTop, kMiddle, kBaseline, kBottom };

void set_colour(cairo_t* cr, Rgb c, double alpha = 1.0);
void set_font(cairo_t* cr, double size_px, bool bold = false);

// Width of `text` in the current font (advance, not ink: what the next word would start after).
double text_width(cairo_t* cr, const std::string& text);

// Draws `text` in the current font and colour, anchored at (x, y) by the alignments. Vertical
// alignment uses the font's ascent/descent, not the ink, so labels in a row share a baseline.
void draw_text(cairo_t* cr, const std::string& text, double x, double y, HAlign h, VAlign v);

// Same, turned 90 degrees counter-clockwise (reads bottom to top), centred on (x, y): y-axis titles.
void draw_text_vertical(cairo_t* cr, const std::string& text, double x, double y);

// `text`, cut at the end with "..." so it fits in max_width (unchanged when it already fits).
std::string fit_text(cairo_t* cr, const std::string& text, double max_width);

}  // namespace plot
