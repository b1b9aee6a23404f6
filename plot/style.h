// plot/style.h
// How the figure looks: run colours, line kinds, fonts, sizes. One place, so the legend and the
// panels can never disagree about what a thin light line means.
#pragma once

#include <cstddef>

namespace plot {

struct Rgb {
  double r, g, b;  // 0..1
};

// Okabe & Ito's colour-blind-safe palette (their yellow dropped: unreadable on white). Runs take
// the colours in order; beyond seven they repeat, and the legend still names each run.
inline constexpr Rgb kRunColours[] = {
    {0.000, 0.447, 0.698},  // blue        #0072B2
    {0.835, 0.369, 0.000},  // vermillion  #D55E00
    {0.000, 0.620, 0.451},  // green       #009E73
    {0.800, 0.475, 0.655},  // purple      #CC79A7
    {0.902, 0.624, 0.000},  // orange      #E69F00
    {0.337, 0.706, 0.914},  // sky blue    #56B4E9
    {0.000, 0.000, 0.000},  // black
};
inline constexpr size_t kRunColourCount = sizeof(kRunColours) / sizeof(kRunColours[0]);
inline Rgb run_colour(size_t run) { return kRunColours[run % kRunColourCount]; }

// Neutral tones of the frame and text; the legend draws the line kinds in kInk.
inline constexpr Rgb kInk = {0.15, 0.15, 0.15};        // text, axis frame
inline constexpr Rgb kMutedInk = {0.35, 0.35, 0.35};   // tick labels
inline constexpr Rgb kGrid = {0.88, 0.88, 0.88};
inline constexpr Rgb kBackground = {1, 1, 1};

// Line kinds (CONTRACTS §6 does not fix them; the legend explains them on every figure).
struct LineStyle {
  double width;    // px
  double alpha;    // 1 = opaque
  bool dashed;
  bool markers;    // a filled circle on every point
};
inline constexpr LineStyle kTrainRawStyle = {1.0, 0.40, false, false};      // every logged loss, faint
inline constexpr LineStyle kTrainSmoothedStyle = {2.5, 1.00, false, false};  // the trend to read
inline constexpr LineStyle kValStyle = {1.5, 1.00, true, true};             // few points: show each one
inline constexpr double kMarkerRadius = 4.0;

// Fonts (px). The whole figure uses one sans-serif family through cairo's toy text API, which is
// enough for labels and needs no Pango.
inline constexpr const char* kFontFamily = "sans-serif";
inline constexpr double kTitleFont = 22, kPanelTitleFont = 16, kAxisTitleFont = 14, kTickFont = 13,
                        kLegendFont = 14;

// Default canvas: PNG pixels, SVG user units (px) alike.
inline constexpr int kDefaultWidth = 1600, kDefaultHeight = 1000;

}  // namespace plot
