// kernels/cpu/softmax_xent.h
// Fused softmax + cross-entropy over rows of logits, templated on the scalar. The loss layer of
// the model: one pass per row gives the per-token loss and, optionally, dlogits in place.
// Called by softmax_xent.cpp (Ops entry point) and tests/kernels.
// Not here: the mean over tokens (the caller folds 1/N into dloss), vocab-parallel softmax (TP).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/tensor.h"

namespace kernels::cpu {

// logits (N,V), targets (N), losses (N), dlogits (N,V) or null. Only columns [0, Vr) are real;
// columns [Vr, V) are padding with probability 0 and gradient exactly 0.
//   loss_n = logsumexp(logits_n[:Vr]) - logits_n[target_n]          (0 when target_n < 0)
//   dlogits_n = (softmax(logits_n[:Vr]) - onehot(target_n)) * dloss  (all 0 when target_n < 0)
// dlogits may alias logits: each row is fully read (max, sum, target logit) before it is written,
// and the write loop reads each element just before overwriting it.
template <class Real>
void softmax_xent_ref(Real* losses, Real* dlogits, const Real* logits, const int32_t* targets, int64_t N,
                      int64_t V, int64_t Vr, Real dloss) {
#pragma omp parallel for schedule(static) if (N * V > (1 << 15))
  for (int64_t n = 0; n < N; ++n) {
    const Real* x = logits + n * V;
    Real* dx = dlogits ? dlogits + n * V : nullptr;
    const int64_t target = targets[n];
    if (target < 0) {  // ignored position (e.g. padding of a short document)
      losses[n] = 0;
      if (dx)
        for (int64_t c = 0; c < V; ++c) dx[c] = 0;
      continue;
    }
    // Work with x - max only: no overflow, and shifting every logit by a constant (logits + 1000)
    // changes nothing, not even rounding, as long as the shifted logits are exact. (Forming
    // lse = max + log(sum) first would round at the magnitude of the logits.)
    Real m = -std::numeric_limits<Real>::infinity();
    for (int64_t c = 0; c < Vr; ++c) m = std::max(m, x[c]);
    Real sum = 0;
    for (int64_t c = 0; c < Vr; ++c) sum += std::exp(x[c] - m);
    losses[n] = std::log(sum) - (x[target] - m);
    if (!dx) continue;
    const Real inv_sum = Real(1) / sum;
    for (int64_t c = 0; c < Vr; ++c) {
      const Real p = std::exp(x[c] - m) * inv_sum;
      dx[c] = (p - (c == target ? Real(1) : Real(0))) * dloss;
    }
    for (int64_t c = Vr; c < V; ++c) dx[c] = 0;
  }
}

// Ops entry point (softmax_xent.cpp).
void softmax_xent(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, int vocab_real, float dloss, Stream s);

}  // namespace kernels::cpu
