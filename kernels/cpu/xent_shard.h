// kernels/cpu/xent_shard.h
// Vocab-parallel cross-entropy on one shard of the logits, templated on the scalar: the three
// passes that parallel/tp_xent.cpp wraps around two all-reduces over the tensor-parallel group
// (global max, then sums). With one shard they reproduce softmax_xent (tests check that).
// Called by xent_shard.cpp (Ops entry points) and tests. Not here: any communication.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/tensor.h"

namespace kernels::cpu {

// logits (N,Vs) hold global columns [start, start+Vs); global columns >= Vr are padding.
// Number of real columns of this shard: [0, real).
inline int64_t shard_real_columns(int64_t start, int64_t Vs, int64_t Vr) {
  return std::clamp<int64_t>(Vr - start, 0, Vs);
}

template <class Real>
void xent_shard_max_ref(Real* row_max, const Real* logits, int64_t N, int64_t Vs, int64_t start, int64_t Vr) {
  const int64_t real = shard_real_columns(start, Vs, Vr);
#pragma omp parallel for schedule(static) if (N * Vs > (1 << 15))
  for (int64_t n = 0; n < N; ++n) {
    Real m = -std::numeric_limits<Real>::infinity();
    for (int64_t c = 0; c < real; ++c) m = std::max(m, logits[n * Vs + c]);
    row_max[n] = m;
  }
}

// row_max is the global max of each row; target_logit is relative to it (x_t - max), 0 elsewhere.
template <class Real>
void xent_shard_sumexp_ref(Real* row_sumexp, Real* target_logit, const Real* logits, const int32_t* targets,
                           const Real* row_max, int64_t N, int64_t Vs, int64_t start, int64_t Vr) {
  const int64_t real = shard_real_columns(start, Vs, Vr);
#pragma omp parallel for schedule(static) if (N * Vs > (1 << 15))
  for (int64_t n = 0; n < N; ++n) {
    const Real* x = logits + n * Vs;
    Real sum = 0;
    for (int64_t c = 0; c < real; ++c) sum += std::exp(x[c] - row_max[n]);
    row_sumexp[n] = sum;
    const int64_t t = int64_t(targets[n]) - start;
    target_logit[n] = (targets[n] >= 0 && t >= 0 && t < real) ? x[t] - row_max[n] : Real(0);
  }
}

// With the global row_sumexp and target_logit: losses and (optionally, in place) dlogits.
template <class Real>
void xent_shard_finish_ref(Real* losses, Real* dlogits, const Real* logits, const int32_t* targets,
                           const Real* row_max, const Real* row_sumexp, const Real* target_logit, int64_t N,
                           int64_t Vs, int64_t start, int64_t Vr, Real dloss) {
  const int64_t real = shard_real_columns(start, Vs, Vr);
#pragma omp parallel for schedule(static) if (N * Vs > (1 << 15))
  for (int64_t n = 0; n < N; ++n) {
    const bool ignored = targets[n] < 0;
    losses[n] = ignored ? Real(0) : std::log(row_sumexp[n]) - target_logit[n];
    if (!dlogits) continue;
    Real* dx = dlogits + n * Vs;
    const Real* x = logits + n * Vs;
    const int64_t t = int64_t(targets[n]) - start;
    const Real inv_sum = Real(1) / row_sumexp[n];
    for (int64_t c = 0; c < Vs; ++c) {
      if (ignored || c >= real) {
        dx[c] = 0;
        continue;
      }
      const Real p = std::exp(x[c] - row_max[n]) * inv_sum;
      dx[c] = (p - (c == t ? Real(1) : Real(0))) * dloss;
    }
  }
}

// Ops entry points (xent_shard.cpp).
void xent_shard_max(Tensor row_max, Tensor logits, int vocab_start, int vocab_real, Stream s);
void xent_shard_sumexp(Tensor row_sumexp, Tensor target_logit, Tensor logits, Tensor targets, Tensor row_max,
                       int vocab_start, int vocab_real, Stream s);
void xent_shard_finish(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, Tensor row_max,
                       Tensor row_sumexp, Tensor target_logit, int vocab_start, int vocab_real, float dloss, Stream s);

}  // namespace kernels::cpu
