// kernels/cpu/gelu.h
// GELU, tanh approximation (GPT-2), forward and backward, templated on the scalar.
// Called by gelu.cpp (Ops entry points) and tests/kernels. Not here: dispatch, checks.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/tensor.h"

namespace kernels::cpu {

// gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
template <class Real>
void gelu_forward_ref(Real* out, const Real* inp, int64_t n) {
  const Real k = std::sqrt(Real(2) / Real(3.14159265358979323846));
#pragma omp parallel for schedule(static) if (n > (1 << 14))
  for (int64_t i = 0; i < n; ++i) {
    const Real x = inp[i];
    const Real u = k * (x + Real(0.044715) * x * x * x);
    out[i] = Real(0.5) * x * (Real(1) + std::tanh(u));
  }
}

// dinp = dout * gelu'(x),  gelu'(x) = 0.5 (1 + tanh u) + 0.5 x sech^2(u) du/dx,
// du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2). Overwrites dinp (it may alias dout).
template <class Real>
void gelu_backward_ref(Real* dinp, const Real* dout, const Real* inp, int64_t n) {
  const Real k = std::sqrt(Real(2) / Real(3.14159265358979323846));
#pragma omp parallel for schedule(static) if (n > (1 << 14))
  for (int64_t i = 0; i < n; ++i) {
    const Real x = inp[i];
    const Real th = std::tanh(k * (x + Real(0.044715) * x * x * x));
    const Real sech2 = Real(1) - th * th;
    const Real grad = Real(0.5) * (Real(1) + th) + Real(0.5) * x * sech2 * k * (Real(1) + Real(3 * 0.044715) * x * x);
    dinp[i] = dout[i] * grad;
  }
}

// Ops entry points (gelu.cpp).
void gelu_forward(Tensor out, Tensor inp, Stream s);
void gelu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream s);

}  // namespace kernels::cpu
