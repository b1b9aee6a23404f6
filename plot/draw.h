// plot/draw.h
// Painting a Figure with cairo, onto whatever surface render.cpp made (SVG or PNG): the one
// drawing code path for both formats. Internal to kiln_plot.
#pragma once

#include <cairo.h>

#include "plot/canvas.h"
#include "plot/figure.h"

namespace plot {

// The whole figure: background, title, legend, and the panels in a grid, filling the canvas (px).
void draw_figure(cairo_t* cr, const Figure& f, double canvas_width, double canvas_height);

// One panel inside `cell`: its title on top, y-axis title and tick labels on the left, x tick labels
// and x-axis title below, grid, and the series clipped to the plot area, which starts left_inset px
// into the cell. panel_left_inset is the room p's own labels need; the figure gives every panel the
// largest, so panels sharing an x axis line up.
double panel_left_inset(cairo_t* cr, const Panel& p);
void draw_panel(cairo_t* cr, const Panel& p, const Rect& cell, double left_inset);

// A line in `style` through (x, y) pairs, in the current colour; NaN y values break it. Used by the
// panels and by the legend's samples of each line kind.
void stroke_line(cairo_t* cr, const double* x, const double* y, size_t n, const LineStyle& style, Rgb colour);
void fill_markers(cairo_t* cr, const double* x, const double* y, size_t n, Rgb colour);

}  // namespace plot
