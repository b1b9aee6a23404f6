// kernels/cudasim/cublaslt.cpp
// The reference GEMM behind the simulator's cuBLASLt stand-in (cublaslt.h). Column-major as
// cuBLASLt: element (r, c) of a layout is at r + c * ld. D = alpha * op(A) op(B) + beta * C
// (+ bias[r] with the bias epilogue), accumulated in fp32 in k order, rounded once into D's type.
#include "kernels/cudasim/cublaslt.h"

#include <atomic>
#include <cstring>
#include <vector>

#include "kernels/dtype.h"

namespace cudasim::api {

struct cublasLtContext {
  int unused = 0;
};
struct cublasLtMatmulDescOpaque {
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
};
struct cublasLtMatrixLayoutOpaque {
  cudaDataType_t type;
  uint64_t rows, cols;
  int64_t ld;
};
struct cublasLtMatmulPreferenceOpaque {
  uint64_t workspace = 0;
};

}  // namespace cudasim::api

namespace cudasim {

namespace {

std::atomic<bool> g_bias_epilogue{true};
std::atomic<long long> g_matmuls{0};

float load(cudaDataType_t t, const void* p, int64_t i) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float*>(p)[i];
    case CUDA_R_16BF: return float(static_cast<const kernels::bf16*>(p)[i]);
    case CUDA_R_16F: return float(static_cast<const kernels::fp16*>(p)[i]);
  }
  return 0.f;
}

void store(cudaDataType_t t, void* p, int64_t i, float v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float*>(p)[i] = v; return;
    case CUDA_R_16BF: static_cast<kernels::bf16*>(p)[i] = kernels::bf16(v); return;
    case CUDA_R_16F: static_cast<kernels::fp16*>(p)[i] = kernels::fp16(v); return;
  }
}

bool known_type(cudaDataType_t t) { return t == CUDA_R_32F || t == CUDA_R_16BF || t == CUDA_R_16F; }

// The checks cuBLASLt makes before choosing or running an algorithm.
cublasStatus_t validate(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                        cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d) {
  if (desc == nullptr || a == nullptr || b == nullptr || c == nullptr || d == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  for (auto* l : {a, b, c, d})
    if (!known_type(l->type) || l->ld < int64_t(l->rows) || l->ld < 1) return CUBLAS_STATUS_INVALID_VALUE;
  const uint64_t m = d->rows, n = d->cols;
  const uint64_t am = desc->trans_a == CUBLAS_OP_T ? a->cols : a->rows, ak = desc->trans_a == CUBLAS_OP_T ? a->rows : a->cols;
  const uint64_t bk = desc->trans_b == CUBLAS_OP_T ? b->cols : b->rows, bn = desc->trans_b == CUBLAS_OP_T ? b->rows : b->cols;
  if (am != m || bn != n || ak != bk || c->rows != m || c->cols != n) return CUBLAS_STATUS_INVALID_VALUE;
  if (a->type != b->type || c->type != d->type) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (d->type != CUDA_R_32F && d->type != a->type) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (desc->epilogue == CUBLASLT_EPILOGUE_BIAS && desc->bias == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

void set_cublaslt_bias_epilogue(bool available) { g_bias_epilogue = available; }
long long cublaslt_matmuls() { return g_matmuls; }

namespace api {

cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasLtContext();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t compute, cudaDataType_t scale) {
  if (desc == nullptr || compute != CUBLAS_COMPUTE_32F || scale != CUDA_R_32F) return CUBLAS_STATUS_INVALID_VALUE;
  *desc = new cublasLtMatmulDescOpaque();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void* buf, size_t size) {
  if (desc == nullptr || buf == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
    case CUBLASLT_MATMUL_DESC_TRANSB: {
      if (size != sizeof(cublasOperation_t)) return CUBLAS_STATUS_INVALID_VALUE;
      cublasOperation_t op;
      std::memcpy(&op, buf, size);
      (attr == CUBLASLT_MATMUL_DESC_TRANSA ? desc->trans_a : desc->trans_b) = op;
      return CUBLAS_STATUS_SUCCESS;
    }
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
      if (size != sizeof(cublasLtEpilogue_t)) return CUBLAS_STATUS_INVALID_VALUE;
      std::memcpy(&desc->epilogue, buf, size);
      return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
      if (size != sizeof(void*)) return CUBLAS_STATUS_INVALID_VALUE;
      std::memcpy(&desc->bias, buf, size);
      return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete desc;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType_t type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
  if (layout == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *layout = new cublasLtMatrixLayoutOpaque{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref) {
  if (pref == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *pref = new cublasLtMatmulPreferenceOpaque();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void* buf,
                                                    size_t size) {
  if (pref == nullptr || buf == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
    if (size != sizeof(uint64_t)) return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&pref->workspace, buf, size);
    return CUBLAS_STATUS_SUCCESS;
  }
  return size == sizeof(uint32_t) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;  // alignments
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
  delete pref;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t* results, int* returned) {
  if (handle == nullptr || pref == nullptr || requested < 1 || results == nullptr || returned == nullptr)
    return CUBLAS_STATUS_INVALID_VALUE;
  *returned = 0;
  const cublasStatus_t st = validate(desc, a, b, c, d);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  if (desc->epilogue == CUBLASLT_EPILOGUE_BIAS && !g_bias_epilogue) return CUBLAS_STATUS_NOT_SUPPORTED;
  std::memset(&results[0], 0, sizeof(results[0]));
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void* alpha, const void* A,
                              cublasLtMatrixLayout_t a, const void* B, cublasLtMatrixLayout_t b, const void* beta,
                              const void* C, cublasLtMatrixLayout_t c, void* D, cublasLtMatrixLayout_t d,
                              const cublasLtMatmulAlgo_t* algo, void*, size_t, cudaStream_t) {
  if (handle == nullptr || alpha == nullptr || beta == nullptr || algo == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  const cublasStatus_t st = validate(desc, a, b, c, d);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  if (desc->epilogue == CUBLASLT_EPILOGUE_BIAS && !g_bias_epilogue) return CUBLAS_STATUS_NOT_SUPPORTED;
  const int64_t m = int64_t(d->rows), n = int64_t(d->cols);
  const int64_t k = int64_t(desc->trans_a == CUBLAS_OP_T ? a->rows : a->cols);
  if (m * n > 0 && (A == nullptr || B == nullptr || C == nullptr || D == nullptr)) return CUBLAS_STATUS_INVALID_VALUE;
  float al, be;
  std::memcpy(&al, alpha, sizeof al);
  std::memcpy(&be, beta, sizeof be);
  const bool ta = desc->trans_a == CUBLAS_OP_T, tb = desc->trans_b == CUBLAS_OP_T;
  // op(A) as m rows of k and op(B) as n rows of k, in fp32, so the products below run contiguously.
  std::vector<float> opa(size_t(m * k)), opb(size_t(n * k)), out(size_t(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) opa[size_t(i * k + p)] = load(a->type, A, ta ? p + i * a->ld : i + p * a->ld);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) opb[size_t(j * k + p)] = load(b->type, B, tb ? j + p * b->ld : p + j * b->ld);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      const float* x = &opa[size_t(i * k)];
      const float* y = &opb[size_t(j * k)];
      float acc = 0.f;
      for (int64_t p = 0; p < k; ++p) acc += x[p] * y[p];
      float v = al * acc;
      if (be != 0.f) v += be * load(c->type, C, i + j * c->ld);
      if (desc->epilogue == CUBLASLT_EPILOGUE_BIAS) v += load(d->type, desc->bias, i);
      out[size_t(i + j * m)] = v;
    }
  // Written after all reads: C may be D (matmul.cu accumulates dweight in place).
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) store(d->type, D, i + j * d->ld, out[size_t(i + j * m)]);
  ++g_matmuls;
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace api
}  // namespace cudasim
