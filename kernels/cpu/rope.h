// kernels/cpu/rope.h
// Rotary position embedding (RoPE) reference, Hugging Face's "rotate half" layout, templated on the
// scalar (float in the backend, double in gradient checks). Called by rope.cpp (Ops entry points)
// and tests/kernels. Not here: dtype dispatch, shape checks.
//
// qkv (B,T,W) in attention's layout (kernels/cpu/attention.h): the NH query heads and NKV key heads
// are the first (NH+NKV)*hs channels of each row, so RoPE rotates that prefix head by head and
// leaves v alone. In each head channel i < hs/2 pairs with i + hs/2 and the pair turns by
//   angle(pos, i) = pos * theta^(-2i/hs),   pos = pos0 + t:
//   (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)      (backward: the same with -angle).
// Angles, cos and sin are computed in double (once per position and pair, shared by every head and
// sequence) and rounded to the scalar once.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace kernels::cpu {

// cos and sin of angle(pos0 + t, i) for t < T, i < hs/2, as (T, hs/2) tables.
template <class Real>
void rope_tables(std::vector<Real>& cos_t, std::vector<Real>& sin_t, int64_t T, int64_t hs, int64_t pos0,
                 double theta) {
  const int64_t half = hs / 2;
  cos_t.resize(size_t(T * half));
  sin_t.resize(size_t(T * half));
  for (int64_t i = 0; i < half; ++i) {
    const double inv_freq = std::pow(theta, -double(2 * i) / double(hs));
    for (int64_t t = 0; t < T; ++t) {
      const double angle = double(pos0 + t) * inv_freq;
      cos_t[size_t(t * half + i)] = Real(std::cos(angle));
      sin_t[size_t(t * half + i)] = Real(std::sin(angle));
    }
  }
}

// In place on the first `heads` heads of each (b,t) row of qkv (row width W). direction +1 rotates
// by +angle (forward), -1 by -angle (the adjoint, for gradients).
template <class Real>
void rope_ref(Real* qkv, int64_t B, int64_t T, int64_t W, int64_t heads, int64_t hs, int64_t pos0, double theta,
              int direction) {
  const int64_t half = hs / 2;
  std::vector<Real> cos_t, sin_t;
  rope_tables(cos_t, sin_t, T, hs, pos0, theta);
  const Real sign = Real(direction);
#pragma omp parallel for collapse(2) schedule(static) if (B * T * heads * hs > (1 << 15))
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const Real* c = cos_t.data() + t * half;
      const Real* s = sin_t.data() + t * half;
      Real* row = qkv + (b * T + t) * W;
      for (int64_t h = 0; h < heads; ++h) {
        Real* x = row + h * hs;
        for (int64_t i = 0; i < half; ++i) {
          const Real x1 = x[i], x2 = x[i + half], sn = sign * s[i];
          x[i] = x1 * c[i] - x2 * sn;
          x[i + half] = x2 * c[i] + x1 * sn;
        }
      }
    }
}

// Ops entry points (rope.cpp).
void rope_forward(Tensor qkv, int n_head, int n_kv_head, int pos0, float theta, Stream s);
void rope_backward(Tensor dqkv, int n_head, int n_kv_head, int pos0, float theta, Stream s);

}  // namespace kernels::cpu
