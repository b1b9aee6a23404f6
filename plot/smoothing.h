// plot/smoothing.h
// TensorBoard's "smoothing" slider, so kiln's curves look like the ones people already read.
#pragma once

#include <vector>

namespace plot {

// Debiased exponential moving average with weight w in [0, 1) (0 = no smoothing):
//   m_0 = 0,   m_i = w * m_{i-1} + (1 - w) * y_i,   s_i = m_i / (1 - w^i)
// where i counts the finite values seen so far. Dividing by (1 - w^i), the total weight given to
// real values, removes the pull towards the zero start, so s_1 = y_1 instead of (1 - w) * y_1.
// Non-finite values (a logged NaN loss) pass through as they are and do not enter the average.
// The average runs over logged points, not steps: with log_every = 25 and w = 0.9 the window is
// about 10 points = 250 steps (TensorBoard does the same).
std::vector<double> smooth_ema_debiased(const std::vector<double>& y, double weight);

}  // namespace plot
