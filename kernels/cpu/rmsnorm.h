// kernels/cpu/rmsnorm.h
// RMSNorm (Llama) reference math, plain and fused with the residual add, templated on the scalar
// (float in the backend, double in gradient checks). Called by rmsnorm.cpp (Ops entry points) and
// tests/kernels. Not here: dtype dispatch, shape checks. eps comes from the model (model.norm_eps).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/tensor.h"

namespace kernels::cpu {

// One row: out = x * rstd * weight, returns rstd = 1 / sqrt(mean(x^2) + eps).
template <class Real>
inline Real rmsnorm_row(Real* out, const Real* x, const Real* weight, int64_t C, Real eps) {
  Real ss = 0;
  for (int64_t c = 0; c < C; ++c) ss += x[c] * x[c];
  const Real r = Real(1) / std::sqrt(ss / Real(C) + eps);
  for (int64_t c = 0; c < C; ++c) out[c] = x[c] * r * weight[c];
  return r;
}

// x, out (N,C); weight (C); rstd (N) saved for backward.
template <class Real>
void rmsnorm_forward_ref(Real* out, Real* rstd, const Real* x, const Real* weight, int64_t N, int64_t C, Real eps) {
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t n = 0; n < N; ++n) rstd[n] = rmsnorm_row(out + n * C, x + n * C, weight, C, eps);
}

// sum = a + b (sum may alias a or b), then out = rmsnorm(sum): the stream is read once.
template <class Real>
void residual_rmsnorm_forward_ref(Real* sum, Real* out, Real* rstd, const Real* a, const Real* b, const Real* weight,
                                  int64_t N, int64_t C, Real eps) {
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t n = 0; n < N; ++n) {
    Real* s = sum + n * C;
    for (int64_t c = 0; c < C; ++c) s[c] = a[n * C + c] + b[n * C + c];
    rstd[n] = rmsnorm_row(out + n * C, s, weight, C, eps);
  }
}

// dx (N,C) +=, dweight (C) +=. With xhat = x * rstd and g = dout * weight:
//   dx = rstd * (g - xhat * mean(g * xhat))        (per row)
template <class Real>
void rmsnorm_backward_ref(Real* dx, Real* dweight, const Real* dout, const Real* x, const Real* weight,
                          const Real* rstd, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t n = 0; n < N; ++n) {
    const Real* xr = x + n * C;
    const Real* d = dout + n * C;
    const Real r = rstd[n];
    Real gx_mean = 0;
    for (int64_t c = 0; c < C; ++c) gx_mean += d[c] * weight[c] * xr[c] * r;
    gx_mean /= Real(C);
    Real* dxr = dx + n * C;
    for (int64_t c = 0; c < C; ++c) dxr[c] += r * (d[c] * weight[c] - xr[c] * r * gx_mean);
  }
  // dweight sums over rows: serial in row order, bit-reproducible under any thread count.
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) dweight[c] += dout[n * C + c] * x[n * C + c] * rstd[n];
}

// Ops entry points (rmsnorm.cpp).
void rmsnorm_forward(Tensor out, Tensor rstd, Tensor x, Tensor weight, float eps, Stream s);
void residual_rmsnorm_forward(Tensor sum, Tensor out, Tensor rstd, Tensor a, Tensor b, Tensor weight, float eps,
                              Stream s);
void rmsnorm_backward(Tensor dx, Tensor dweight, Tensor dout, Tensor x, Tensor weight, Tensor rstd, Stream s);

}  // namespace kernels::cpu
