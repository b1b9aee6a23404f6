// kernels/cuda/elementwise.cu
// Ops entry points for residual add, dtype cast and zero on the GPU. Called through
// kernels::cuda::kOps (the model's residual stream, ParamArena's compute-copy refresh and
// gradient zeroing). Mirrors kernels/cpu/elementwise.cpp. Not here: reductions (reduce.cu).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kThreads = 256;

// out = a + b, fp32 math, one rounding. out may alias a or b (same index read then written).
template <class T>
__global__ void residual_forward_kernel(T* out, const T* a, const T* b, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

// Widening to fp32 is exact; the one rounding is from_float (RNE), as convert_scalar on the CPU.
template <class Dst, class Src>
__global__ void cast_kernel(Dst* dst, const Src* src, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = from_float<Dst>(to_float(src[i]));
}

}  // namespace

void residual_forward(Tensor out, Tensor a, Tensor b, Stream s) {
  const char* op = "residual_forward";
  check_residual_forward(kDevice, out, a, b);
  check_compute_dtype(op, "a", a.dtype);
  check_same_dtype(op, a.dtype, {{"b", &b}, {"out", &out}});
  const int64_t n = a.numel();
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "a", a.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<residual_forward_kernel<T>>(op, grid_for(n, kThreads), kThreads, 0, stream, ptr<T>(out), ptr<T>(a),
                                       ptr<T>(b), n);
  });
}

void cast(Tensor dst, Tensor src, Stream s) {
  const char* op = "cast";
  check_cast(kDevice, dst, src);
  const char *d0 = static_cast<const char*>(dst.data), *s0 = static_cast<const char*>(src.data);
  const bool disjoint = d0 + dst.nbytes() <= s0 || s0 + src.nbytes() <= d0;
  const cudaStream_t stream = cuda_stream(s);
  if (dst.dtype == src.dtype) {  // same type: a copy; dst == src is a no-op (CPU tolerates it too)
    if (d0 == s0) return;
    KILN_CHECK(disjoint, op_msg(op, "dst and src partially overlap"));
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, src.nbytes(), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  const int64_t n = src.numel();
  dispatch_float(op, "src", src.dtype, [&](auto src_tag) {
    using Src = decltype(src_tag);
    dispatch_float(op, "dst", dst.dtype, [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      launch<cast_kernel<Dst, Src>>(op, grid_for(n, kThreads), kThreads, 0, stream, ptr<Dst>(dst), ptr<Src>(src), n);
    });
  });
}

void zero(Tensor x, Stream s) {
  if (x.empty()) return;  // a zero-sized view (e.g. an empty shard) has nothing to clear
  check_device("zero", "x", x, kDevice);
  KILN_CUDA_CHECK(cudaMemsetAsync(x.data, 0, x.nbytes(), cuda_stream(s)));
}

}  // namespace kernels::cuda
