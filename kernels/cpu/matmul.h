// kernels/cpu/matmul.h
// Linear layer reference: out = inp @ weight^T + bias, templated on the scalar. The products go
// to OpenBLAS through the gemm() overloads below (sgemm for float, dgemm for double), so the
// template stays one piece of code and tests can run it in double.
// Called by matmul.cpp (Ops entry points) and tests/kernels. Not here: dtype dispatch, checks.
#pragma once

#include <cstdint>

#include "kernels/tensor.h"

namespace kernels::cpu {

// C(M,N) = alpha * op(A) @ op(B) + beta * C, row-major; op(X) = X^T when trans_x. lda/ldb/ldc are
// row strides of the stored matrices. Then C += bias (N values) on every row when bias is not null:
// (the product) + bias, the same numbers as adding it afterwards (kiln's sgemm adds it as it stores
// the product, without another pass over C). Implemented in gemm.cpp with cblas (no BLAS header
// here), split over kiln's OpenMP threads when called outside a parallel region, single-threaded
// inside one.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias = nullptr);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc,
          const double* bias = nullptr);

// out (N,OC) = inp (N,IC) @ weight (OC,IC)^T + bias (OC). bias may be null.
template <class Real>
void matmul_forward_ref(Real* out, const Real* inp, const Real* weight, const Real* bias, int64_t N,
                        int64_t IC, int64_t OC) {
  gemm(false, true, N, OC, IC, Real(1), inp, IC, weight, IC, Real(0), out, OC, bias);
}

// dinp (N,IC) = dout @ weight      (overwritten; skipped when dinp is null)
// dweight (OC,IC) += dout^T @ inp   (beta = 1 accumulates)
// dbias (OC) += column sums of dout (skipped when null)
template <class Real>
void matmul_backward_ref(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                         const Real* weight, int64_t N, int64_t IC, int64_t OC) {
  if (dinp != nullptr) gemm(false, false, N, IC, OC, Real(1), dout, OC, weight, IC, Real(0), dinp, IC);
  gemm(true, false, OC, IC, N, Real(1), dout, OC, inp, IC, Real(1), dweight, IC);
  if (dbias == nullptr) return;
  // Row order fixed (serial) so the sum is the same under any thread count; inner loop vectorizes.
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < OC; ++o) dbias[o] += dout[n * OC + o];
}

// Ops entry points (matmul.cpp).
void matmul_forward(Tensor out, Tensor inp, Tensor weight, Tensor bias, Stream s);
void matmul_backward(Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp, Tensor weight, Stream s);

}  // namespace kernels::cpu
