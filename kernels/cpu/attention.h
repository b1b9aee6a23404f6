// kernels/cpu/attention.h
// Causal multi-head self-attention reference, templated on the scalar (float in the backend,
// double in gradient checks). Flash-attention style memory: forward saves only the logsumexp of
// each score row; backward rebuilds the probabilities from q, k and lse.
// Called by attention.cpp (Ops entry points) and tests/kernels.
// Not here: dtype dispatch, checks, dropout, non-causal masks. The KV-cache variant for generation
// (attention_cached_forward_ref) is forward only.
//
// Layout: qkv (B,T,3C) = [q | k | v] per token, each C = NH heads x hs channels (hs = C/NH);
// head h of q for token (b,t) is qkv[(b*T+t)*3C + h*hs + d], k adds C, v adds 2C.
// out (B,T,C) uses the same head-major channel split; lse (B,NH,T).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/tensor.h"

namespace kernels::cpu {

// Dot product of two hs-vectors. `omp simd reduction` lets the compiler reassociate (vectorize)
// the sum, which plain -O3 must not do; the order is still fixed, so results are reproducible.
template <class Real>
inline Real attention_dot(const Real* a, const Real* b, int64_t n) {
  Real acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// y += alpha * x over n elements.
template <class Real>
inline void attention_axpy(Real* y, Real alpha, const Real* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// out = softmax(q k^T * scale, causal) v, lse = logsumexp of each (scaled, masked) score row.
// One (b,h) pair per task: B*NH tasks, each with the same triangular amount of work.
template <class Real>
void attention_forward_ref(Real* out, Real* lse, const Real* qkv, int64_t B, int64_t T, int64_t C, int64_t NH) {
  const int64_t hs = C / NH, C3 = 3 * C;
  const Real scale = Real(1) / std::sqrt(Real(hs));
  // Tiny problems (gradient checks) stay on one thread: a parallel region costs more than them.
  const bool parallel = B * NH * T * T * hs > (1 << 16);
#pragma omp parallel if (parallel)
  {
    std::vector<Real> p(static_cast<size_t>(T));  // scores, then unnormalised probabilities, of one row
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < NH; ++h) {
        const Real* base = qkv + b * T * C3 + h * hs;  // q of token 0 of this (b,h); k at +C, v at +2C
        for (int64_t t = 0; t < T; ++t) {
          const Real* q = base + t * C3;
          Real m = -std::numeric_limits<Real>::infinity();
          for (int64_t j = 0; j <= t; ++j) {
            p[j] = attention_dot(q, base + j * C3 + C, hs) * scale;
            m = std::max(m, p[j]);
          }
          Real sum = 0;
          for (int64_t j = 0; j <= t; ++j) {
            p[j] = std::exp(p[j] - m);
            sum += p[j];
          }
          const Real inv = Real(1) / sum;
          Real* o = out + (b * T + t) * C + h * hs;
          for (int64_t d = 0; d < hs; ++d) o[d] = 0;
          for (int64_t j = 0; j <= t; ++j) attention_axpy(o, p[j] * inv, base + j * C3 + 2 * C, hs);
          lse[(b * NH + h) * T + t] = m + std::log(sum);
        }
      }
    }
  }
}

// dqkv (B,T,3C) overwritten. With P = exp(S - lse) rebuilt per row and D_t = dout_t . out_t
// (= sum_j P_tj dP_tj, the softmax Jacobian's correction term):
//   dV_j += P_tj dout_t;  dS_tj = P_tj (dout_t . v_j - D_t);  dq_t += scale dS_tj k_j;  dk_j += scale dS_tj q_t
// Every write for head (b,h) stays inside that head's slice, so (b,h) tasks never race.
template <class Real>
void attention_backward_ref(Real* dqkv, const Real* dout, const Real* qkv, const Real* out, const Real* lse,
                            int64_t B, int64_t T, int64_t C, int64_t NH) {
  const int64_t hs = C / NH, C3 = 3 * C;
  const Real scale = Real(1) / std::sqrt(Real(hs));
  const bool parallel = B * NH * T * T * hs > (1 << 16);
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < NH; ++h) {
      const Real* base = qkv + b * T * C3 + h * hs;
      Real* dbase = dqkv + b * T * C3 + h * hs;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t part = 0; part < 3; ++part)
          for (int64_t d = 0; d < hs; ++d) dbase[t * C3 + part * C + d] = 0;
      for (int64_t t = 0; t < T; ++t) {
        const Real* q = base + t * C3;
        const Real* dout_t = dout + (b * T + t) * C + h * hs;
        const Real D = attention_dot(dout_t, out + (b * T + t) * C + h * hs, hs);
        const Real row_lse = lse[(b * NH + h) * T + t];
        Real* dq = dbase + t * C3;
        for (int64_t j = 0; j <= t; ++j) {
          const Real* k = base + j * C3 + C;
          const Real* v = base + j * C3 + 2 * C;
          const Real p = std::exp(attention_dot(q, k, hs) * scale - row_lse);
          const Real ds = p * (attention_dot(dout_t, v, hs) - D) * scale;
          attention_axpy(dq, ds, k, hs);
          attention_axpy(dbase + j * C3 + C, ds, q, hs);
          attention_axpy(dbase + j * C3 + 2 * C, p, dout_t, hs);
        }
      }
    }
  }
}

// Ops entry points (attention.cpp).
void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, Stream s);
void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, Stream s);
void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head, Stream s);

// Generation: appends the n new tokens' k and v (from qkv (n,3C)) to the caches (maxT,C) at rows
// pos0.., then out (n,C) = attention of each new query over cache rows 0 .. pos0+i. One task per
// (token, head); the score loop is attention_forward_ref's, so the numbers match it.
template <class Real>
void attention_cached_forward_ref(Real* out, const Real* qkv, Real* k_cache, Real* v_cache, int64_t pos0, int64_t n,
                                  int64_t C, int64_t NH) {
  const int64_t hs = C / NH, C3 = 3 * C;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < C; ++c) {
      k_cache[(pos0 + i) * C + c] = qkv[i * C3 + C + c];
      v_cache[(pos0 + i) * C + c] = qkv[i * C3 + 2 * C + c];
    }
  const Real scale = Real(1) / std::sqrt(Real(hs));
  const bool parallel = n * NH * (pos0 + n) * hs > (1 << 16);
#pragma omp parallel if (parallel)
  {
    std::vector<Real> p(static_cast<size_t>(pos0 + n));
#pragma omp for collapse(2) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < NH; ++h) {
        const Real* q = qkv + i * C3 + h * hs;
        const int64_t keys = pos0 + i + 1;
        Real m = -std::numeric_limits<Real>::infinity();
        for (int64_t j = 0; j < keys; ++j) {
          p[j] = attention_dot(q, k_cache + j * C + h * hs, hs) * scale;
          m = std::max(m, p[j]);
        }
        Real sum = 0;
        for (int64_t j = 0; j < keys; ++j) {
          p[j] = std::exp(p[j] - m);
          sum += p[j];
        }
        const Real inv = Real(1) / sum;
        Real* o = out + i * C + h * hs;
        for (int64_t d = 0; d < hs; ++d) o[d] = 0;
        for (int64_t j = 0; j < keys; ++j) attention_axpy(o, p[j] * inv, v_cache + j * C + h * hs, hs);
      }
    }
  }
}

}  // namespace kernels::cpu
