// kernels/cpu/reduce.h
// Reductions: the sum of squares behind the global gradient norm, templated on the element type.
// Called by reduce.cpp (Ops entry point) and tests/kernels.
// Not here: the sqrt / clipping (trainer/optimizer) or the cross-rank sum (parallel/).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/tensor.h"

namespace kernels::cpu {

inline double widen_to_double(double x) { return x; }
inline double widen_to_double(float x) { return x; }
inline double widen_to_double(bf16 x) { return static_cast<float>(x); }
inline double widen_to_double(fp16 x) { return static_cast<float>(x); }

// Elements per partial sum. Fixed (not per-thread) so the result is bit-identical under any
// OMP_NUM_THREADS: blocks are summed in parallel, then the block sums serially in order.
constexpr int64_t kSumSquaresBlock = 1 << 14;

// Sum of x^2 over n elements, accumulated in double whatever the storage type.
template <class S>
double sum_squares_ref(const S* x, int64_t n) {
  const int64_t n_blocks = (n + kSumSquaresBlock - 1) / kSumSquaresBlock;
  std::vector<double> partial(size_t(n_blocks), 0.0);
#pragma omp parallel for schedule(static) if (n_blocks > 1)
  for (int64_t blk = 0; blk < n_blocks; ++blk) {
    const int64_t end = std::min(n, (blk + 1) * kSumSquaresBlock);
    double acc = 0;
    for (int64_t i = blk * kSumSquaresBlock; i < end; ++i) {
      const double v = widen_to_double(x[i]);
      acc += v * v;
    }
    partial[size_t(blk)] = acc;
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

// Ops entry points (reduce.cpp).
void sum_squares(Tensor out, Tensor x, Stream s);
void sum_squares_multi(Tensor out, Tensor x, Tensor segments, Stream s);
void loss_mean_accumulate(Tensor acc, Tensor losses, double count, double divisor, Stream s);

}  // namespace kernels::cpu
