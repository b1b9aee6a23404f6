// kernels/cpu/attention.h
// Causal self-attention reference with grouped-query heads, templated on the scalar (float in the
// backend, double in gradient checks). Flash-attention style memory: forward saves only the
// logsumexp of each score row; backward rebuilds the probabilities from q, k and lse.
// Called by attention.cpp (Ops entry points) and tests/kernels.
// Not here: dtype dispatch, checks, dropout, non-causal masks. The KV-cache variant for generation
// (attention_cached_forward_ref) is forward only.
//
// Layout: qkv (B,T,W), W = (NH + 2*NKV)*hs: per token NH heads of q, NKV heads of k, NKV heads of v,
// each hs consecutive channels; query head h reads key/value head h / G, G = NH/NKV (GPT-2: NKV = NH,
// W = 3C). Head h of q for token (b,t) is qkv[(b*T+t)*W + h*hs + d], kv head g of k at
// NH*hs + g*hs + d, of v at (NH+NKV)*hs + g*hs + d. out (B,T,NH*hs) in q's head order; lse (B,NH,T).
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

// Where q, k and v of one head start inside a token's row of qkv, and the row widths.
struct AttentionGeometry {
  int64_t NH, NKV, hs;
  int64_t C;       // NH*hs: width of out
  int64_t W;       // (NH + 2*NKV)*hs: width of qkv
  int64_t group;   // NH / NKV query heads per key/value head
  AttentionGeometry(int64_t n_head, int64_t n_kv_head, int64_t head_size)
      : NH(n_head), NKV(n_kv_head), hs(head_size), C(n_head * head_size), W((n_head + 2 * n_kv_head) * head_size),
        group(n_head / n_kv_head) {}
  int64_t q(int64_t h) const { return h * hs; }
  int64_t k(int64_t g) const { return C + g * hs; }
  int64_t v(int64_t g) const { return C + NKV * hs + g * hs; }
};

// out = softmax(q k^T * scale, causal) v, lse = logsumexp of each (scaled, masked) score row.
// One (b,h) pair per task: B*NH tasks, each with the same triangular amount of work.
template <class Real>
void attention_forward_ref(Real* out, Real* lse, const Real* qkv, int64_t B, int64_t T, const AttentionGeometry& a) {
  const int64_t NH = a.NH, hs = a.hs, C = a.C, W = a.W;
  const Real scale = Real(1) / std::sqrt(Real(hs));
  // Tiny problems (gradient checks) stay on one thread: a parallel region costs more than them.
  const bool parallel = B * NH * T * T * hs > (1 << 16);
#pragma omp parallel if (parallel)
  {
    std::vector<Real> p(static_cast<size_t>(T));  // scores, then unnormalised probabilities, of one row
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < NH; ++h) {
        const Real* row0 = qkv + b * T * W;  // token 0 of this sequence
        const Real* kbase = row0 + a.k(h / a.group);
        const Real* vbase = row0 + a.v(h / a.group);
        for (int64_t t = 0; t < T; ++t) {
          const Real* q = row0 + t * W + a.q(h);
          Real m = -std::numeric_limits<Real>::infinity();
          for (int64_t j = 0; j <= t; ++j) {
            p[j] = attention_dot(q, kbase + j * W, hs) * scale;
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
          for (int64_t j = 0; j <= t; ++j) attention_axpy(o, p[j] * inv, vbase + j * W, hs);
          lse[(b * NH + h) * T + t] = m + std::log(sum);
        }
      }
    }
  }
}

// dqkv (B,T,W) overwritten. With P = exp(S - lse) rebuilt per row and D_t = dout_t . out_t
// (= sum_j P_tj dP_tj, the softmax Jacobian's correction term):
//   dV_j += P_tj dout_t;  dS_tj = P_tj (dout_t . v_j - D_t);  dq_t += scale dS_tj k_j;  dk_j += scale dS_tj q_t
// One (b, kv head) pair per task: the G query heads of a group add into the same dk, dv, so they run
// in one task, in head order; every write of a task stays inside its slices, so tasks never race.
template <class Real>
void attention_backward_ref(Real* dqkv, const Real* dout, const Real* qkv, const Real* out, const Real* lse,
                            int64_t B, int64_t T, const AttentionGeometry& a) {
  const int64_t NH = a.NH, NKV = a.NKV, hs = a.hs, C = a.C, W = a.W;
  const Real scale = Real(1) / std::sqrt(Real(hs));
  const bool parallel = B * NH * T * T * hs > (1 << 16);
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t g = 0; g < NKV; ++g) {
      const Real* row0 = qkv + b * T * W;
      Real* drow0 = dqkv + b * T * W;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < hs; ++d) {
          drow0[t * W + a.k(g) + d] = 0;
          drow0[t * W + a.v(g) + d] = 0;
        }
      for (int64_t h = g * a.group; h < (g + 1) * a.group; ++h) {
        for (int64_t t = 0; t < T; ++t)
          for (int64_t d = 0; d < hs; ++d) drow0[t * W + a.q(h) + d] = 0;
        for (int64_t t = 0; t < T; ++t) {
          const Real* q = row0 + t * W + a.q(h);
          const Real* dout_t = dout + (b * T + t) * C + h * hs;
          const Real D = attention_dot(dout_t, out + (b * T + t) * C + h * hs, hs);
          const Real row_lse = lse[(b * NH + h) * T + t];
          Real* dq = drow0 + t * W + a.q(h);
          for (int64_t j = 0; j <= t; ++j) {
            const Real* k = row0 + j * W + a.k(g);
            const Real* v = row0 + j * W + a.v(g);
            const Real p = std::exp(attention_dot(q, k, hs) * scale - row_lse);
            const Real ds = p * (attention_dot(dout_t, v, hs) - D) * scale;
            attention_axpy(dq, ds, k, hs);
            attention_axpy(drow0 + j * W + a.k(g), ds, q, hs);
            attention_axpy(drow0 + j * W + a.v(g), p, dout_t, hs);
          }
        }
      }
    }
  }
}

// Ops entry points (attention.cpp).
void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s);
void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, int n_kv_head,
                        Stream s);
void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head,
                              int n_kv_head, Stream s);

// Generation: appends the n new tokens' k and v (from qkv (n,W)) to the caches (maxT, NKV*hs) at
// rows pos0.., then out (n,NH*hs) = attention of each new query over cache rows 0 .. pos0+i. One
// task per (token, head); the score loop is attention_forward_ref's, so the numbers match it.
template <class Real>
void attention_cached_forward_ref(Real* out, const Real* qkv, Real* k_cache, Real* v_cache, int64_t pos0, int64_t n,
                                  const AttentionGeometry& a) {
  const int64_t NH = a.NH, hs = a.hs, C = a.C, W = a.W, KC = a.NKV * hs;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < KC; ++c) {
      k_cache[(pos0 + i) * KC + c] = qkv[i * W + a.k(0) + c];
      v_cache[(pos0 + i) * KC + c] = qkv[i * W + a.v(0) + c];
    }
  const Real scale = Real(1) / std::sqrt(Real(hs));
  const bool parallel = n * NH * (pos0 + n) * hs > (1 << 16);
#pragma omp parallel if (parallel)
  {
    std::vector<Real> p(static_cast<size_t>(pos0 + n));
#pragma omp for collapse(2) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < NH; ++h) {
        const Real* q = qkv + i * W + a.q(h);
        const int64_t kv = (h / a.group) * hs;  // this head's offset inside a cache row
        const int64_t keys = pos0 + i + 1;
        Real m = -std::numeric_limits<Real>::infinity();
        for (int64_t j = 0; j < keys; ++j) {
          p[j] = attention_dot(q, k_cache + j * KC + kv, hs) * scale;
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
        for (int64_t j = 0; j < keys; ++j) attention_axpy(o, p[j] * inv, v_cache + j * KC + kv, hs);
      }
    }
  }
}

}  // namespace kernels::cpu
