// plot/render.h
// `kiln plot`'s library entry: runs -> figure -> an SVG or PNG file (CONTRACTS §6: the format comes
// from the --out extension).
//
// Called by tools/cmd_plot.cpp and tests. Both formats are drawn by the same code (draw_figure) on
// a cairo surface; only the surface and the bytes written differ. Bad options are
// kernels::InputError naming the flag and value; a file that cannot be written is an InputError
// naming it; a cairo failure is a std::runtime_error naming the file (exit 1).
#pragma once

#include <string>
#include <vector>

#include "plot/run_data.h"
#include "plot/style.h"

namespace plot {

enum class Format { kSvg, kPng };

struct PlotOptions {
  std::string out;          // FILE.svg or FILE.png (case-insensitive extension)
  double smoothing = 0.6;   // EMA weight in [0, 1), see smoothing.h; TensorBoard's default
  int width = kDefaultWidth, height = kDefaultHeight;  // px (PNG pixels, SVG user units)
};

// The format `out` asks for; an InputError naming the --out value otherwise.
Format format_of(const std::string& out);

// Checks the options (each error names its flag), builds the figure, draws it and writes o.out
// (parent folders are created; the file appears whole: written beside it, then renamed).
void write_plot(const std::vector<RunData>& runs, const PlotOptions& o);

}  // namespace plot
