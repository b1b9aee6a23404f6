// kernels/cuda/matmul.cu
// The linear layer on the GPU through cuBLASLt: out = inp @ W^T + b (bias fused as the
// CUBLASLT_EPILOGUE_BIAS epilogue), dinp = dout @ W, dweight += dout^T @ inp (beta = 1), and
// dbias += column sums of dout (a deterministic two-pass kernel, colsum.cuh).
// Called through kernels::cuda::kOps. Not here: GELU epilogues, fp8, algorithm autotuning.
//
// Precision: fp32, bf16 or fp16 inputs with fp32 accumulation (CUBLAS_COMPUTE_32F; fp32 inputs
// get true fp32, never TF32, so they match the CPU to ~1e-6). dweight may be fp32 while the
// activations are bf16/fp16: cuBLASLt takes A/B in 16 bits with C/D in fp32 for that case.
//
// Row-major <-> column-major. cuBLAS is column-major; a row-major (r x c) matrix X with row stride
// ld is, byte for byte, the column-major (c x r) matrix X^T with leading dimension ld. So every
// row-major product P = X @ Y is computed as the column-major product P^T = Y^T @ X^T:
//   forward   out(N,OC) = inp(N,IC) @ W(OC,IC)^T   ->  out^T(OC,N) = W(OC,IC) @ inp^T(IC,N)
//             A = W: stored col-major as (IC,OC), ld IC, op T   -> (OC,IC);  m = OC
//             B = inp: stored col-major as (IC,N), ld IC, op N;                n = N, k = IC
//             D = out^T: (OC,N), ld OC. Bias has length m = OC: added to every column of D,
//             i.e. to every row n of out.
//   dinp      dinp(N,IC) = dout(N,OC) @ W(OC,IC)   ->  dinp^T(IC,N) = W^T(IC,OC) @ dout^T(OC,N)
//             A = W: col-major (IC,OC), ld IC, op N;  B = dout: col-major (OC,N), ld OC, op N;
//             m = IC, n = N, k = OC;  D ld IC.
//   dweight   dW(OC,IC) += dout^T(OC,N) @ inp(N,IC) ->  dW^T(IC,OC) += inp^T(IC,N) @ dout(N,OC)
//             A = inp: col-major (IC,N), ld IC, op N;  B = dout: col-major (OC,N), ld OC, op T;
//             m = IC, n = OC, k = N;  C = D = dW, ld IC, beta = 1.
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

cudaDataType_t cuda_type(DType d) {
  switch (d) {
    case DType::F32:
      return CUDA_R_32F;
    case DType::BF16:
      return CUDA_R_16BF;
    case DType::F16:
      return CUDA_R_16F;
    default:
      fail("cuda_type", std::string("no cuBLAS type for ") + dtype_name(d), __FILE__, __LINE__);
  }
}

// Largest power of two (<= 256) dividing the address: what cuBLASLt may assume about it.
uint32_t alignment_of(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al /= 2;
  return al;
}

// One column-major GEMM: D(m,n) = op(A)(m,k) @ op(B)(k,n) + beta * D, optional bias epilogue.
struct Gemm {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const void* A = nullptr;
  int64_t lda = 0;
  const void* B = nullptr;
  int64_t ldb = 0;
  void* D = nullptr;
  int64_t ldd = 0;
  cudaDataType_t ab_type = CUDA_R_32F, d_type = CUDA_R_32F;
  float beta = 0.f;
  const void* bias = nullptr;  // length m, type d_type
};

// Heuristic results depend only on these; looking one up costs ~10-50 us, so cache it.
using AlgoKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, int, int, bool, bool,
                           uint32_t, uint32_t, uint32_t, uint32_t, int>;
struct CachedAlgo {
  bool found = false;  // false: cuBLASLt offered nothing for this key (remembered too)
  cublasLtMatmulAlgo_t algo;
};

// The descriptors of one call, destroyed on every path (status ignored: nothing to do about it).
struct LtDescs {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  LtDescs() = default;
  LtDescs(const LtDescs&) = delete;
  LtDescs& operator=(const LtDescs&) = delete;
  ~LtDescs() {
    if (a) (void)cublasLtMatrixLayoutDestroy(a);
    if (b) (void)cublasLtMatrixLayoutDestroy(b);
    if (d) (void)cublasLtMatrixLayoutDestroy(d);
    if (desc) (void)cublasLtMatmulDescDestroy(desc);
  }
};

std::string describe(const Gemm& g) {
  return "m=" + std::to_string(g.m) + " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) + " types " +
         std::to_string(int(g.ab_type)) + "->" + std::to_string(int(g.d_type)) + (g.bias ? " +bias" : "") +
         ", alignments " + std::to_string(alignment_of(g.A)) + "/" + std::to_string(alignment_of(g.B)) + "/" +
         std::to_string(alignment_of(g.D));
}

// Runs the GEMM; returns false (and does nothing) if cuBLASLt has no algorithm for it.
bool try_gemm(const Gemm& g, cudaStream_t stream) {
  cublasLtHandle_t handle = lt_handle();
  LtDescs lt;
  KILN_CUBLAS_CHECK(cublasLtMatmulDescCreate(&lt.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(lt.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(lt.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  if (g.bias != nullptr) {  // bias type defaults to D's type (kernels check bias.dtype == out.dtype)
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(lt.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    KILN_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(lt.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof(g.bias)));
  }
  // Stored shapes (before op): A is (m,k) or, transposed, (k,m); B is (k,n) or (n,k).
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt.a, g.ab_type, uint64_t(g.trans_a ? g.k : g.m),
                                               uint64_t(g.trans_a ? g.m : g.k), g.lda));
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt.b, g.ab_type, uint64_t(g.trans_b ? g.n : g.k),
                                               uint64_t(g.trans_b ? g.k : g.n), g.ldb));
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt.d, g.d_type, uint64_t(g.m), uint64_t(g.n), g.ldd));  // C == D

  const uint32_t al_a = alignment_of(g.A), al_b = alignment_of(g.B), al_d = alignment_of(g.D);
  const uint32_t al_bias = g.bias ? alignment_of(g.bias) : 0;
  int dev = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&dev));
  // clang-format off
  const AlgoKey key{g.m, g.n, g.k, g.lda, g.ldb, g.ldd, int(g.ab_type), int(g.d_type), int(g.trans_a), int(g.trans_b),
                    g.beta != 0.f, g.bias != nullptr, al_a, al_b, al_d, al_bias, dev};
  // clang-format on
  static std::mutex cache_mutex;
  static std::map<AlgoKey, CachedAlgo> cache;
  CachedAlgo chosen;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto it = cache.find(key);
    if (it != cache.end()) {
      chosen = it->second;
      cached = true;
    }
  }
  if (!cached) {
    cublasLtMatmulPreference_t pref = nullptr;
    KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t ws = kLtWorkspaceBytes;
    KILN_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    // Tell the heuristic how aligned our pointers really are (default assumes 256 bytes):
    // parameter views are 128-byte aligned in bf16, row slices may be less.
    KILN_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof(al_a)));
    KILN_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof(al_b)));
    KILN_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d, sizeof(al_d)));
    KILN_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d, sizeof(al_d)));
    cublasLtMatmulHeuristicResult_t result;
    std::memset(&result, 0, sizeof(result));
    int returned = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(handle, lt.desc, lt.a, lt.b, lt.d, lt.d, pref, 1, &result, &returned);
    (void)cublasLtMatmulPreferenceDestroy(pref);
    // NOT_SUPPORTED is how cuBLASLt says "no algorithm"; anything else is a real error.
    if (st != CUBLAS_STATUS_NOT_SUPPORTED) KILN_CUBLAS_CHECK(st);
    chosen.found = st == CUBLAS_STATUS_SUCCESS && returned > 0 && result.state == CUBLAS_STATUS_SUCCESS;
    chosen.algo = result.algo;
    std::lock_guard<std::mutex> lock(cache_mutex);
    cache[key] = chosen;
  }
  if (!chosen.found) return false;
  const float alpha = 1.f, beta = g.beta;
  KILN_CUBLAS_CHECK(cublasLtMatmul(handle, lt.desc, &alpha, g.A, lt.a, g.B, lt.b, &beta, g.D, lt.d, g.D, lt.d,
                                   &chosen.algo, lt_workspace(stream), kLtWorkspaceBytes, stream));
  return true;
}

// D[j*ldd + i] += bias[i]: the bias of a row-major (n, m) output, when no fused epilogue exists.
template <class T>
__global__ void add_bias_kernel(T* D, const T* bias, int64_t m, int64_t n, int64_t ldd) {
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < m * n;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = idx % m, j = idx / m;
    D[j * ldd + i] = from_float<T>(to_float(D[j * ldd + i]) + to_float(bias[i]));
  }
}

void gemm(const char* op, const Gemm& g, cudaStream_t stream) {
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) {  // empty sum: D = beta * D
    KILN_CHECK(g.beta == 1.f && g.bias == nullptr, std::string(op) + ": GEMM with an empty inner dimension");
    return;
  }
  if (try_gemm(g, stream)) return;
  if (g.bias != nullptr) {
    // No algorithm with the fused bias for this type/alignment combination: plain GEMM, then the
    // bias in its own pass (bf16/fp16 outputs are then rounded twice; the CPU rounds once).
    Gemm plain = g;
    plain.bias = nullptr;
    if (try_gemm(plain, stream)) {
      constexpr int kThreads = 256;
      const unsigned blocks = grid_for(g.m * g.n, kThreads);
      if (g.d_type == CUDA_R_32F) {
        launch<add_bias_kernel<float>>(op, blocks, kThreads, 0, stream, static_cast<float*>(g.D),
                                       static_cast<const float*>(g.bias), g.m, g.n, g.ldd);
      } else if (g.d_type == CUDA_R_16BF) {
        launch<add_bias_kernel<__nv_bfloat16>>(op, blocks, kThreads, 0, stream, static_cast<__nv_bfloat16*>(g.D),
                                               static_cast<const __nv_bfloat16*>(g.bias), g.m, g.n, g.ldd);
      } else {
        launch<add_bias_kernel<__half>>(op, blocks, kThreads, 0, stream, static_cast<__half*>(g.D),
                                        static_cast<const __half*>(g.bias), g.m, g.n, g.ldd);
      }
      return;
    }
  }
  fail(op, "cuBLASLt has no algorithm for " + describe(g), __FILE__, __LINE__);
}

// f(n, o) = {dout[n, o], 0}: the terms of dbias.
template <class T>
struct DbiasTerms {
  const T* dout;
  int64_t OC;
  __device__ float2 operator()(int64_t n, int64_t o) const { return make_float2(to_float(dout[n * OC + o]), 0.f); }
};

}  // namespace

void matmul_forward(Tensor out, Tensor inp, Tensor weight, Tensor bias, Stream s) {
  const char* op = "matmul_forward";
  const LinearDims d = check_matmul_forward(kDevice, out, inp, weight, bias);
  const int64_t N = d.N, IC = d.IC, OC = d.OC;
  check_compute_dtype(op, "inp", inp.dtype);
  check_same_dtype(op, inp.dtype, {{"out", &out}, {"weight", &weight}, {"bias", &bias}});
  Gemm g;
  g.trans_a = true;
  g.m = OC, g.n = N, g.k = IC;
  g.A = weight.data, g.lda = IC;
  g.B = inp.data, g.ldb = IC;
  g.D = out.data, g.ldd = OC;
  g.ab_type = g.d_type = cuda_type(inp.dtype);
  g.bias = bias.empty() ? nullptr : bias.data;
  gemm(op, g, cuda_stream(s));
}

void matmul_backward(Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp, Tensor weight, Stream s) {
  const char* op = "matmul_backward";
  const LinearDims d = check_matmul_backward(kDevice, dinp, dweight, dbias, dout, inp, weight);
  const int64_t N = d.N, IC = d.IC, OC = d.OC;
  check_compute_dtype(op, "inp", inp.dtype);
  check_same_dtype(op, inp.dtype, {{"dinp", &dinp}, {"dout", &dout}, {"weight", &weight}});
  check_grad_dtype(op, "dweight", dweight, inp.dtype);
  check_grad_dtype(op, "dbias", dbias, inp.dtype);
  const cudaStream_t stream = cuda_stream(s);
  const cudaDataType_t act = cuda_type(inp.dtype);
  if (!dinp.empty()) {
    Gemm g;
    g.m = IC, g.n = N, g.k = OC;
    g.A = weight.data, g.lda = IC;
    g.B = dout.data, g.ldb = OC;
    g.D = dinp.data, g.ldd = IC;
    g.ab_type = g.d_type = act;
    gemm(op, g, stream);
  }
  {
    Gemm g;
    g.trans_b = true;
    g.m = IC, g.n = OC, g.k = N;
    g.A = inp.data, g.lda = IC;
    g.B = dout.data, g.ldb = OC;
    g.D = dweight.data, g.ldd = IC;
    g.ab_type = act;
    g.d_type = cuda_type(dweight.dtype);
    g.beta = 1.f;
    gemm(op, g, stream);
  }
  if (dbias.empty()) return;
  dispatch_float(op, "dout", dout.dtype, [&](auto tag) {
    using T = decltype(tag);
    dispatch_grad<T>(dbias.dtype, [&](auto btag) {
      using Bt = decltype(btag);
      colsum_accumulate<Bt, float>(op, ptr<Bt>(dbias), static_cast<float*>(nullptr), N, OC,
                                   DbiasTerms<T>{ptr<T>(dout), OC}, stream);
    });
  });
}

}  // namespace kernels::cuda
