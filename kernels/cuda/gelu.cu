// kernels/cuda/gelu.cu
// GELU (tanh approximation, GPT-2) forward and backward on the GPU: one thread per element,
// fp32 math, the same formulas as kernels/cpu/gelu.h. Called through kernels::cuda::kOps.
// Not here: a GELU fused into the matmul epilogue (CUBLASLT_EPILOGUE_GELU_AUX would save one
// read and write of (B,T,F) per layer; a possible later speed-up).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr float kGeluC = 0.044715f;

// k = sqrt(2/pi), computed on the host exactly as the CPU reference does (in float).
float gelu_k() { return std::sqrt(2.0f / float(3.14159265358979323846)); }

template <class T>
__global__ void gelu_forward_kernel(T* out, const T* inp, int64_t n, float k) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float x = to_float(inp[i]);
    const float u = k * (x + kGeluC * x * x * x);
    out[i] = from_float<T>(0.5f * x * (1.0f + tanhf(u)));
  }
}

// dinp may alias dout: each element is read before it is written, by the same thread.
template <class T>
__global__ void gelu_backward_kernel(T* dinp, const T* dout, const T* inp, int64_t n, float k) {
  const float c3 = float(3 * 0.044715);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float x = to_float(inp[i]);
    const float th = tanhf(k * (x + kGeluC * x * x * x));
    const float sech2 = 1.0f - th * th;
    const float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * k * (1.0f + c3 * x * x);
    dinp[i] = from_float<T>(to_float(dout[i]) * grad);
  }
}

}  // namespace

void gelu_forward(Tensor out, Tensor inp, Stream s) {
  const char* op = "gelu_forward";
  check_gelu_forward(kDevice, out, inp);
  check_compute_dtype(op, "inp", inp.dtype);
  check_same_dtype(op, inp.dtype, {{"out", &out}});
  const int64_t n = inp.numel();
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "inp", inp.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<gelu_forward_kernel<T>>(op, grid_for(n, kThreads), kThreads, 0, stream, ptr<T>(out), ptr<T>(inp), n,
                                   gelu_k());
  });
}

void gelu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream s) {
  const char* op = "gelu_backward";
  check_gelu_backward(kDevice, dinp, dout, inp);
  check_compute_dtype(op, "inp", inp.dtype);
  check_same_dtype(op, inp.dtype, {{"dinp", &dinp}, {"dout", &dout}});
  const int64_t n = inp.numel();
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "inp", inp.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<gelu_backward_kernel<T>>(op, grid_for(n, kThreads), kThreads, 0, stream, ptr<T>(dinp), ptr<T>(dout),
                                    ptr<T>(inp), n, gelu_k());
  });
}

}  // namespace kernels::cuda
