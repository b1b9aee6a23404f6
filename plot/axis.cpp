// plot/axis.cpp
#include "plot/axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace plot {
namespace {

// Comparisons of tick arithmetic tolerate rounding: 1/5 is 0.2000000000000000111.
constexpr double kEps = 1e-9;

// Ticks at the 1, 2, 5 x 10^k values inside [lo, hi] (lo > 0), for axes spanning a decade or more.
// Many decades keep only the powers of ten.
std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  for (const bool powers_only : {false, true}) {
    ticks.clear();
    for (int k = int(std::floor(std::log10(lo))); k <= int(std::ceil(std::log10(hi))); ++k) {
      for (const double m : {1.0, 2.0, 5.0}) {
        if (powers_only && m != 1.0) continue;
        const double v = m * std::pow(10.0, k);
        if (v >= lo * (1 - kEps) && v <= hi * (1 + kEps)) ticks.push_back(v);
      }
    }
    if (ticks.size() <= 8) break;
  }
  return ticks;
}

}  // namespace

double nice_step(double lo, double hi, int max_intervals) {
  const double raw = (hi - lo) / std::max(1, max_intervals);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0})
    if (raw <= m * magnitude * (1 + kEps)) return m * magnitude;
  return 10 * magnitude;
}

Ticks ticks_with_step(double lo, double hi, double step) {
  Ticks t;
  t.step = step;
  // Values as i * step (not repeated additions), so 0.6 prints as 0.6 and 0 is exactly 0.
  const auto first = static_cast<long long>(std::ceil(lo / step - kEps));
  const auto last = static_cast<long long>(std::floor(hi / step + kEps));
  for (long long i = first; i <= last; ++i) t.values.push_back(double(i) * step);
  return t;
}

Ticks nice_ticks(double lo, double hi, int max_intervals) {
  const double span = hi - lo;
  if (!(span > 0) || !std::isfinite(span)) return Ticks{1, {lo}};
  return ticks_with_step(lo, hi, nice_step(lo, hi, max_intervals));
}

std::string format_tick(double v, double step) {
  if (std::fabs(v) < std::fabs(step) * kEps || v == 0) return "0";
  struct Prefix {
    double scale;
    const char* suffix;
  };
  // B rather than SI's G: token counts are spoken of in billions ("300B tokens").
  static constexpr Prefix kPrefixes[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}};
  double scale = 1;
  const char* suffix = "";
  for (const Prefix& p : kPrefixes) {
    if (std::fabs(v) >= p.scale * (1 - kEps)) {
      scale = p.scale;
      suffix = p.suffix;
      break;
    }
  }
  // Decimals enough to tell neighbouring ticks apart: a step of 0.5k needs one, 0.02 needs two.
  const double scaled_step = std::fabs(step) / scale;
  const int decimals = std::clamp(int(std::ceil(-std::log10(scaled_step) - kEps)), 0, 9);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v / scale);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s + suffix;
}

double Axis::fraction(double v) const {
  if (scale == Scale::kLog) return (std::log(v) - std::log(lo)) / (std::log(hi) - std::log(lo));
  return (v - lo) / (hi - lo);
}

Axis make_axis(double data_lo, double data_hi, Scale scale, bool from_zero) {
  Axis a;
  a.scale = (scale == Scale::kLog && data_lo > 0 && !from_zero) ? Scale::kLog : Scale::kLinear;
  if (a.scale == Scale::kLog) {
    // Padding and degenerate ranges work on log values: a single point gets +-10%.
    double llo = std::log(data_lo), lhi = std::log(data_hi);
    if (lhi - llo < 1e-12) {
      llo -= std::log(1.1);
      lhi += std::log(1.1);
    }
    const double pad = 0.05 * (lhi - llo);
    a.lo = std::exp(llo - pad);
    a.hi = std::exp(lhi + pad);
    if (a.hi / a.lo >= 10) {
      a.ticks = log_ticks(a.lo, a.hi);
      for (const double v : a.ticks) a.labels.push_back(format_tick(v, std::pow(10.0, std::floor(std::log10(v)))));
      return a;
    }
  } else if (from_zero) {
    a.lo = 0;
    a.hi = data_hi > 0 ? data_hi : 1;
  } else {
    double lo = data_lo, hi = data_hi;
    if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
      const double half = data_lo != 0 ? 0.1 * std::fabs(data_lo) : 1.0;  // a single value: +-10% around it
      lo -= half;
      hi += half;
    }
    const double pad = 0.05 * (hi - lo);
    a.lo = lo - pad;
    a.hi = hi + pad;
  }
  // On a log axis spanning less than a decade, equal steps crowd at the top and thin out at the
  // bottom: choose the step so the lower half of the axis still gets about three ticks (labels that
  // would touch at the top are dropped when drawn).
  const Ticks t = a.scale == Scale::kLog ? ticks_with_step(a.lo, a.hi, nice_step(a.lo, std::sqrt(a.lo * a.hi), 3))
                                         : nice_ticks(a.lo, a.hi);
  a.ticks = t.values;
  for (const double v : a.ticks) a.labels.push_back(format_tick(v, t.step));
  return a;
}

}  // namespace plot
