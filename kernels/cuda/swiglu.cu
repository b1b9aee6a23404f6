// kernels/cuda/swiglu.cu
// SwiGLU (Llama's MLP activation) forward and backward on the GPU: one thread per output element,
// fp32 math, the formulas of kernels/cpu/swiglu.h. inp (N,2F) holds [gate | up] per row. Called
// through kernels::cuda::kOps. Not here: fusion into the gate/up matmul's epilogue (a later speed-up).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float swiglu_sigmoid(float g) { return 1.0f / (1.0f + expf(-g)); }

template <class T>
__global__ void swiglu_forward_kernel(T* out, const T* inp, int64_t N, int64_t F) {
  const int64_t n_out = N * F;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n_out; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / F, f = i % F;
    const float g = to_float(inp[n * 2 * F + f]), u = to_float(inp[n * 2 * F + F + f]);
    out[i] = from_float<T>(g * swiglu_sigmoid(g) * u);
  }
}

// dinp may alias inp: the thread for (n, f) reads gate and up, then writes both.
template <class T>
__global__ void swiglu_backward_kernel(T* dinp, const T* dout, const T* inp, int64_t N, int64_t F) {
  const int64_t n_out = N * F;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n_out; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / F, f = i % F;
    const float g = to_float(inp[n * 2 * F + f]), u = to_float(inp[n * 2 * F + F + f]), d = to_float(dout[i]);
    const float s = swiglu_sigmoid(g);
    dinp[n * 2 * F + f] = from_float<T>(d * u * s * (1.0f + g * (1.0f - s)));
    dinp[n * 2 * F + F + f] = from_float<T>(d * g * s);
  }
}

}  // namespace

void swiglu_forward(Tensor out, Tensor inp, Stream s) {
  const char* op = "swiglu_forward";
  const RowDims d = check_swiglu_forward(kDevice, out, inp);
  check_compute_dtype(op, "inp", inp.dtype);
  check_same_dtype(op, inp.dtype, {{"out", &out}});
  if (d.N * d.C == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "inp", inp.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<swiglu_forward_kernel<T>>(op, grid_for(d.N * d.C, kThreads), kThreads, 0, stream, ptr<T>(out),
                                     ptr<T>(inp), d.N, d.C);
  });
}

void swiglu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream s) {
  const char* op = "swiglu_backward";
  const RowDims d = check_swiglu_backward(kDevice, dinp, dout, inp);
  check_compute_dtype(op, "inp", inp.dtype);
  check_same_dtype(op, inp.dtype, {{"dinp", &dinp}, {"dout", &dout}});
  if (d.N * d.C == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "inp", inp.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<swiglu_backward_kernel<T>>(op, grid_for(d.N * d.C, kThreads), kThreads, 0, stream, ptr<T>(dinp),
                                      ptr<T>(dout), ptr<T>(inp), d.N, d.C);
  });
}

}  // namespace kernels::cuda
