// plot/axis.h
// Axis ranges, "nice" tick values (1, 2 or 5 x 10^k) and their labels ("1.5k", "20M").
//
// Pure arithmetic, no drawing: plot/panel.cpp maps values through Axis::fraction and prints
// Axis::labels. Tested on known ranges in tests/plot/test_axis.cpp.
#pragma once

#include <string>
#include <vector>

namespace plot {

enum class Scale { kLinear, kLog };

struct Ticks {
  double step = 1;             // distance between ticks (linear), used to choose label decimals
  std::vector<double> values;  // multiples of step inside [lo, hi], ascending
};

// The ticks of [lo, hi] whose step is the smallest 1, 2 or 5 x 10^k that cuts the range into at most
// max_intervals pieces: 0..1 -> 0, 0.2, ..., 1; 0..1e6 -> 0, 200k, ..., 1M.
Ticks nice_ticks(double lo, double hi, int max_intervals = 6);

// The parts of nice_ticks: the step alone, and the multiples of a given step inside [lo, hi].
double nice_step(double lo, double hi, int max_intervals);
Ticks ticks_with_step(double lo, double hi, double step);

// A tick label: a suffix for |v| >= 1000 (k, M, B, T), and just the decimals the tick step needs,
// without trailing zeros: (1500, 500) -> "1.5k", (2e7, 5e6) -> "20M", (0.4, 0.2) -> "0.4", (0, _) -> "0".
std::string format_tick(double v, double step);

struct Axis {
  double lo = 0, hi = 1;  // the range shown, data units
  Scale scale = Scale::kLinear;
  std::vector<double> ticks;
  std::vector<std::string> labels;  // one per tick

  // Where v sits along the axis: 0 at lo, 1 at hi (outside [0, 1] for values out of range).
  double fraction(double v) const;
};

// An axis showing [data_lo, data_hi]. from_zero: the range starts at 0 and ends at the data (x axes
// of steps and tokens, which are counts); otherwise 5% of the span is added on both sides so no
// point sits on the frame. A log axis needs data_lo > 0 (it falls back to linear otherwise); it ticks
// 1, 2, 5 x 10^k when the data spans a decade or more, and nice linear values when it spans less (a
// loss from 1.8 to 5.6 gets 2, 3, 4, 5 rather than a lone 2 and 5).
Axis make_axis(double data_lo, double data_hi, Scale scale, bool from_zero);

}  // namespace plot
