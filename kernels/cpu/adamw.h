// kernels/cpu/adamw.h
// AdamW update (decoupled weight decay, bias correction) over a flat tensor, templated on the
// scalar. Called by adamw.cpp (Ops entry point) and tests/kernels.
// Not here: gradient clipping (the caller folds it into args.grad_scale), lr schedules, ZeRO.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/ops.h"

namespace kernels::cpu {

// Per element, exactly in this order (the CUDA backend matches it):
//   g = grad * grad_scale
//   m = b1 m + (1 - b1) g;           v = b2 v + (1 - b2) g^2
//   mhat = m / (1 - b1^step);        vhat = v / (1 - b2^step)
//   p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p)
template <class Real>
void adamw_update_ref(Real* param, const Real* grad, Real* m, Real* v, int64_t n, const AdamWArgs& a) {
  const Real b1 = a.beta1, b2 = a.beta2, lr = a.lr, eps = a.eps, wd = a.weight_decay, gs = a.grad_scale;
  const Real bc1 = Real(1) - std::pow(b1, Real(a.step));
  const Real bc2 = Real(1) - std::pow(b2, Real(a.step));
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const Real g = grad[i] * gs;
    m[i] = b1 * m[i] + (Real(1) - b1) * g;
    v[i] = b2 * v[i] + (Real(1) - b2) * g * g;
    const Real mhat = m[i] / bc1;
    const Real vhat = v[i] / bc2;
    param[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + wd * param[i]);
  }
}

// Ops entry points (adamw.cpp).
void adamw_update(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, AdamWArgs args, Stream s);
void adamw_update_multi(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, Tensor segments,
                        AdamWArgs args, Stream s);

}  // namespace kernels::cpu
