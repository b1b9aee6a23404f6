// kernels/cpu/swiglu.h
// SwiGLU (Llama's MLP activation), forward and backward, templated on the scalar.
// inp (N,2F) holds [gate | up] per row: the output of the fused gate/up projection.
// Called by swiglu.cpp (Ops entry points) and tests/kernels. Not here: dispatch, checks.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/tensor.h"

namespace kernels::cpu {

template <class Real>
inline Real swiglu_sigmoid(Real g) {
  return Real(1) / (Real(1) + std::exp(-g));
}

// out (N,F) = silu(gate) * up, silu(g) = g * sigmoid(g).
template <class Real>
void swiglu_forward_ref(Real* out, const Real* inp, int64_t N, int64_t F) {
#pragma omp parallel for schedule(static) if (N * F > (1 << 14))
  for (int64_t n = 0; n < N; ++n) {
    const Real* gate = inp + n * 2 * F;
    const Real* up = gate + F;
    for (int64_t f = 0; f < F; ++f) out[n * F + f] = gate[f] * swiglu_sigmoid(gate[f]) * up[f];
  }
}

// dinp (N,2F) overwritten (it may alias inp: each pair is read before it is written):
//   dgate = dout * up * silu'(gate),  silu'(g) = s (1 + g (1 - s)), s = sigmoid(g)
//   dup   = dout * silu(gate)
template <class Real>
void swiglu_backward_ref(Real* dinp, const Real* dout, const Real* inp, int64_t N, int64_t F) {
#pragma omp parallel for schedule(static) if (N * F > (1 << 14))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t f = 0; f < F; ++f) {
      const Real g = inp[n * 2 * F + f], u = inp[n * 2 * F + F + f], d = dout[n * F + f];
      const Real s = swiglu_sigmoid(g);
      dinp[n * 2 * F + f] = d * u * s * (Real(1) + g * (Real(1) - s));
      dinp[n * 2 * F + F + f] = d * g * s;
    }
}

// Ops entry points (swiglu.cpp).
void swiglu_forward(Tensor out, Tensor inp, Stream s);
void swiglu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream s);

}  // namespace kernels::cpu
