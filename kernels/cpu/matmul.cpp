// kernels/cpu/matmul.cpp
// Ops entry points for the linear layer, and the gemm() overloads that wrap OpenBLAS.
// Called through kernels::cpu::kOps; gemm() also by anything templated in matmul.h.
// Not here: the epilogues a GPU fuses (GELU, bias-grad tricks): the CPU keeps them separate.
#include "kernels/cpu/matmul.h"

#include <cblas.h>

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

namespace {
// BLAS takes int dimensions: refuse sizes that would silently truncate.
blasint to_blas(int64_t v) {
  KILN_CHECK(v >= 0 && v <= INT32_MAX, "gemm: dimension " + std::to_string(v) + " does not fit BLAS int");
  return static_cast<blasint>(v);
}
CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }
}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, tr(trans_a), tr(trans_b), to_blas(M), to_blas(N), to_blas(K), alpha, A, to_blas(lda), B,
              to_blas(ldb), beta, C, to_blas(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, tr(trans_a), tr(trans_b), to_blas(M), to_blas(N), to_blas(K), alpha, A, to_blas(lda), B,
              to_blas(ldb), beta, C, to_blas(ldc));
}

void matmul_forward(Tensor out, Tensor inp, Tensor weight, Tensor bias, Stream) {
  const char* op = "matmul_forward";
  const LinearDims d = check_matmul_forward(kDevice, out, inp, weight, bias);
  const int64_t N = d.N, IC = d.IC, OC = d.OC;
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"},
                  {&inp, Access::kRead, "inp"},
                  {&weight, Access::kRead, "weight"},
                  {&bias, Access::kRead, "bias"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   matmul_forward_ref<Real>(out.as<Real>(), inp.as<Real>(), weight.as<Real>(),
                                            bias.empty() ? nullptr : bias.as<Real>(), N, IC, OC);
                 });
}

void matmul_backward(Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp, Tensor weight, Stream) {
  const char* op = "matmul_backward";
  const LinearDims d = check_matmul_backward(kDevice, dinp, dweight, dbias, dout, inp, weight);
  const int64_t N = d.N, IC = d.IC, OC = d.OC;
  dispatch_float(op,
                 {{&dinp, Access::kWrite, "dinp"},
                  {&dweight, Access::kReadWrite, "dweight"},
                  {&dbias, Access::kReadWrite, "dbias"},
                  {&dout, Access::kRead, "dout"},
                  {&inp, Access::kRead, "inp"},
                  {&weight, Access::kRead, "weight"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   matmul_backward_ref<Real>(dinp.empty() ? nullptr : dinp.as<Real>(), dweight.as<Real>(),
                                             dbias.empty() ? nullptr : dbias.as<Real>(), dout.as<Real>(),
                                             inp.as<Real>(), weight.as<Real>(), N, IC, OC);
                 });
}

}  // namespace kernels::cpu
