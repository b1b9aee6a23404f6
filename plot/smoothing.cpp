// plot/smoothing.cpp
#include "plot/smoothing.h"

#include <cmath>

namespace plot {

std::vector<double> smooth_ema_debiased(const std::vector<double>& y, double weight) {
  std::vector<double> out(y.size());
  double m = 0.0;            // biased average
  double weight_pow = 1.0;   // w^i, so 1 - w^i is the weight that real values hold in m
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) {
      out[i] = y[i];
      continue;
    }
    m = weight * m + (1.0 - weight) * y[i];
    weight_pow *= weight;
    out[i] = m / (1.0 - weight_pow);
  }
  return out;
}

}  // namespace plot
