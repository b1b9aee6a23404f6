// kernels/cuda/common.cuh
// What every CUDA op file shares: the one CUDA error check, the launch helper (launch<kernel>(...),
// GPU or simulator) and its check, this backend's dtype checks (each op's shape checks are
// kernels/op_checks.h, shared with the CPU backend), the fp32 <-> bf16/fp16 conversions, dtype
// dispatch to the device scalar types, and warp/block reductions. The CUDA headers come through
// compat.cuh.
// Included only by kernels/cuda/*.cu (never by a header that trainer/ or tools/ see).
// Not here: per-stream resources (context.cuh), any op's math.
//
// Dtype rules of the CUDA backend (kernels/ops.h): the activations and weights of one call share
// one "compute" dtype, fp32, bf16 or fp16 (__nv_bfloat16 / __half, bit-compatible with
// kernels::bf16 / fp16). Statistics (mean, rstd, lse, losses) are fp32. Parameter gradients are
// fp32 or the compute dtype. All arithmetic is fp32; each stored result is rounded once (RNE),
// which is exactly what the CPU backend emulates. fp64 exists only on the CPU (gradient checks).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "kernels/check.h"
#include "kernels/cuda/compat.cuh"
#include "kernels/dtype.h"
#include "kernels/op_checks.h"
#include "kernels/tensor.h"

// The one CUDA error check: any failing runtime call ends in kernels::fail (exit 1, file:line).
#define KILN_CUDA_CHECK(call)                                                                  \
  do {                                                                                         \
    cudaError_t e_ = (call);                                                                   \
    if (e_ != cudaSuccess) ::kernels::fail(#call, cudaGetErrorString(e_), __FILE__, __LINE__); \
  } while (0)

namespace kernels::cuda {

static_assert(sizeof(__nv_bfloat16) == sizeof(kernels::bf16), "bf16 layouts must match");
static_assert(sizeof(__half) == sizeof(kernels::fp16), "fp16 layouts must match");

inline cudaStream_t cuda_stream(Stream s) { return static_cast<cudaStream_t>(s.handle); }

// After every launch: catches bad configurations at once. With KILN_CUDA_SYNC_CHECK=1 in the
// environment it also synchronizes the stream, so an asynchronous fault (illegal address, a
// device-side trap on a bad token id) is reported at the op that caused it, not at a later copy.
inline void check_launch(const char* op, cudaStream_t stream) {
  KILN_CUDA_CHECK(cudaGetLastError());
  static const bool sync_each = [] {
    const char* v = std::getenv("KILN_CUDA_SYNC_CHECK");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  if (sync_each) {
    const cudaError_t e = cudaStreamSynchronize(stream);
    if (e != cudaSuccess) ::kernels::fail(op, cudaGetErrorString(e), __FILE__, __LINE__);
  }
}

// The one way op files launch a kernel (GPU or simulator, compat.cuh), followed by check_launch:
//   launch<my_kernel<T>>(op, grid, block, shared_bytes, stream, args...);
template <auto Kernel, class... Args>
void launch(const char* op, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  launch_kernel<Kernel>(grid, block, shared_bytes, stream, std::forward<Args>(args)...);
  check_launch(op, stream);
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks for a grid-stride loop over n elements: enough to fill any GPU, never past grid limits.
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = ceil_div(n, threads);
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > (1 << 20) ? (1 << 20) : blocks));
}

// ---- argument checks -----------------------------------------------------------------------------

// Each op's presence, device and shape checks are kernels/op_checks.h's check_<op>(kDevice, ...),
// shared with the CPU backend. What this backend adds: its dtype rules (below) and kernel limits.
constexpr Device kDevice = Device::kCuda;

// The compute dtype must be one the GPU kernels are built for.
inline void check_compute_dtype(const char* op, const char* name, DType d) {
  KILN_CHECK(d != DType::F64,
             op_msg(op, std::string(name) + " is fp64: fp64 runs only on the CPU backend (gradient checks); "
                                            "the CUDA backend takes fp32, bf16 or fp16"));
  KILN_CHECK(d == DType::F32 || d == DType::BF16 || d == DType::F16,
             op_msg(op, std::string(name) + " must be fp32, bf16 or fp16, got " + dtype_name(d)));
}

// Every tensor listed (optional ones may be empty) has dtype `want`, the call's compute dtype.
inline void check_same_dtype(const char* op, DType want, std::initializer_list<NamedTensor> ts) {
  for (const NamedTensor& n : ts) {
    if (n.t->empty()) continue;
    KILN_CHECK(n.t->dtype == want,
               op_msg(op, std::string(n.name) + " is " + dtype_name(n.t->dtype) + ", but this call computes in " +
                              dtype_name(want) + " (activations and weights share one dtype on the GPU)"));
  }
}

// A parameter gradient: fp32, or the compute dtype itself.
inline void check_grad_dtype(const char* op, const char* name, const Tensor& t, DType compute) {
  if (t.empty()) return;
  KILN_CHECK(t.dtype == DType::F32 || t.dtype == compute,
             op_msg(op, std::string(name) + " is " + dtype_name(t.dtype) + "; parameter gradients must be fp32 or " +
                            dtype_name(compute)));
}

inline void check_stat(const char* op, const char* name, const Tensor& t) {
  KILN_CHECK(t.dtype == DType::F32,
             op_msg(op, std::string(name) + " (a statistic/loss) must be fp32, got " + dtype_name(t.dtype)));
}

template <class T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.data);
}
template <class T>
T* ptr_or_null(const Tensor& t) {
  return t.empty() ? nullptr : static_cast<T*>(t.data);
}

// Calls fn(float{}), fn(__nv_bfloat16{}) or fn(__half{}) for the device scalar that stores d.
template <class Fn>
void dispatch_float(const char* op, const char* name, DType d, Fn&& fn) {
  check_compute_dtype(op, name, d);
  switch (d) {
    case DType::F32:
      fn(float{});
      return;
    case DType::BF16:
      fn(__nv_bfloat16{});
      return;
    default:
      fn(__half{});
      return;
  }
}

// For a parameter gradient of dtype d in a call computing in Act: fn(float{}) or fn(Act{}).
template <class Act, class Fn>
void dispatch_grad(DType d, Fn&& fn) {
  if (d == DType::F32)
    fn(float{});
  else
    fn(Act{});
}

// ---- conversions: all math in fp32, one round-to-nearest-even per stored value ----------------

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

template <class T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}

// ---- reductions --------------------------------------------------------------------------------
// Fixed butterfly order: the result is the same on every run and in every lane.

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets the
// result. `shared` holds 32 floats. Contains __syncthreads: call from all threads of the block.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < n_warps ? shared[lane] : 0.f;
  return warp_sum(v);
}

// Max over the block, as block_sum.
__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < n_warps ? shared[lane] : -INFINITY;
  return warp_max(v);
}

}  // namespace kernels::cuda
