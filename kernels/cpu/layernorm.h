// kernels/cpu/layernorm.h
// LayerNorm reference math, templated on the scalar (float in the backend, double in gradient
// checks). Called by layernorm.cpp (Ops entry points) and tests/kernels.
// Not here: dtype dispatch, shape checks. eps is the op contract's kLayernormEps (kernels/ops.h).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/ops.h"
#include "kernels/tensor.h"

namespace kernels::cpu {

// x, out (N,C); weight, bias (C); mean, rstd (N) saved for backward.
// Two-pass variance (mean first), so rows with a large offset do not lose precision.
template <class Real>
void layernorm_forward_ref(Real* out, Real* mean, Real* rstd, const Real* x, const Real* weight,
                           const Real* bias, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t n = 0; n < N; ++n) {
    const Real* xr = x + n * C;
    Real m = 0;
    for (int64_t c = 0; c < C; ++c) m += xr[c];
    m /= Real(C);
    Real var = 0;
    for (int64_t c = 0; c < C; ++c) var += (xr[c] - m) * (xr[c] - m);
    var /= Real(C);
    const Real r = Real(1) / std::sqrt(var + Real(kLayernormEps));
    Real* o = out + n * C;
    for (int64_t c = 0; c < C; ++c) o[c] = (xr[c] - m) * r * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = r;
  }
}

// dx (N,C) +=, dweight (C) +=, dbias (C) +=. With xhat = (x-mean)*rstd and g = dout*weight:
//   dx = rstd * (g - mean(g) - xhat * mean(g*xhat))        (per row)
template <class Real>
void layernorm_backward_ref(Real* dx, Real* dweight, Real* dbias, const Real* dout, const Real* x,
                            const Real* weight, const Real* mean, const Real* rstd, int64_t N, int64_t C) {
  // Rows are independent for dx: parallel.
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t n = 0; n < N; ++n) {
    const Real* xr = x + n * C;
    const Real* d = dout + n * C;
    const Real m = mean[n], r = rstd[n];
    Real g_mean = 0, gx_mean = 0;
    for (int64_t c = 0; c < C; ++c) {
      const Real g = d[c] * weight[c];
      g_mean += g;
      gx_mean += g * (xr[c] - m) * r;
    }
    g_mean /= Real(C);
    gx_mean /= Real(C);
    Real* dxr = dx + n * C;
    for (int64_t c = 0; c < C; ++c) {
      const Real xhat = (xr[c] - m) * r;
      dxr[c] += r * (d[c] * weight[c] - g_mean - xhat * gx_mean);
    }
  }
  // dweight/dbias sum over rows: serial in row order so the result is bit-reproducible under any
  // thread count; O(N*C), small next to the matmuls around it.
  for (int64_t n = 0; n < N; ++n) {
    const Real* xr = x + n * C;
    const Real* d = dout + n * C;
    const Real m = mean[n], r = rstd[n];
    for (int64_t c = 0; c < C; ++c) {
      dweight[c] += d[c] * (xr[c] - m) * r;
      dbias[c] += d[c];
    }
  }
}

// Ops entry points (layernorm.cpp).
void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias, Stream s);
void residual_layernorm_forward(Tensor sum, Tensor out, Tensor mean, Tensor rstd, Tensor a, Tensor b, Tensor weight,
                                Tensor bias, Stream s);
void layernorm_backward(Tensor dx, Tensor dweight, Tensor dbias, Tensor dout, Tensor x, Tensor weight,
                        Tensor mean, Tensor rstd, Stream s);

}  // namespace kernels::cpu
