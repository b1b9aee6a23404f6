// kernels/cuda/rmsnorm.cu
// RMSNorm (Llama) forward, forward fused with the residual add, and backward on the GPU; fp32 math
// whatever the storage dtype. Called through kernels::cuda::kOps. Mirrors kernels/cpu/rmsnorm.h:
// rstd = 1 / sqrt(mean(x^2) + eps), out = x * rstd * weight, dx += rstd * (g - xhat * mean(g * xhat)).
//
// forward:  one warp per row (8 rows per 256-thread block): sum of squares, then the output. The
//           fused form first writes sum = a + b (rounded once to the storage dtype) and accumulates
//           the squares of the stored values, then normalises what it stored: the same x the
//           backward pass reads, and the same numbers as add-then-normalise. sum may alias a or b:
//           each element is read and written by one lane, in that order.
// backward: (1) one warp per row for dx; (2) dweight += sum_n dout * x * rstd, a deterministic
//           two-pass column reduction (colsum.cuh), never atomics.
#include <cmath>

#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // warps per block

// out = x * r * weight for one row held by one warp; returns r. x is read twice (L1 keeps it).
template <class T>
__device__ __forceinline__ float rmsnorm_warp_row(T* out, const T* x, const T* weight, int C, float eps, int lane) {
  float ss = 0.f;
  for (int c = lane; c < C; c += 32) {
    const float v = to_float(x[c]);
    ss += v * v;
  }
  const float r = 1.0f / sqrtf(warp_sum(ss) / float(C) + eps);  // IEEE sqrt and division, as the CPU
  for (int c = lane; c < C; c += 32) out[c] = from_float<T>(to_float(x[c]) * r * to_float(weight[c]));
  return r;
}

template <class T>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    rmsnorm_forward_kernel(T* out, float* rstd, const T* x, const T* weight, int64_t N, int C, float eps) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= N) return;  // whole warp leaves together
  const float r = rmsnorm_warp_row(out + row * C, x + row * C, weight, C, eps, lane);
  if (lane == 0) rstd[row] = r;
}

template <class T>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    residual_rmsnorm_forward_kernel(T* sum, T* out, float* rstd, const T* a, const T* b, const T* weight, int64_t N,
                                    int C, float eps) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= N) return;
  const int64_t base = row * C;
  for (int c = lane; c < C; c += 32) sum[base + c] = from_float<T>(to_float(a[base + c]) + to_float(b[base + c]));
  // rmsnorm_warp_row's lane l reads back exactly the elements lane l stored (the same c stride).
  const float r = rmsnorm_warp_row(out + base, sum + base, weight, C, eps, lane);
  if (lane == 0) rstd[row] = r;
}

// dx (N,C) += ..., read and written in its own dtype with one rounding.
template <class T>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    rmsnorm_backward_dx_kernel(T* dx, const T* dout, const T* x, const T* weight, const float* rstd, int64_t N, int C) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= N) return;
  const T* xr = x + row * C;
  const T* d = dout + row * C;
  const float r = rstd[row];
  float gx_sum = 0.f;
  for (int c = lane; c < C; c += 32) gx_sum += to_float(d[c]) * to_float(weight[c]) * to_float(xr[c]) * r;
  const float gx_mean = warp_sum(gx_sum) / float(C);
  T* dxr = dx + row * C;
  for (int c = lane; c < C; c += 32) {
    const float g = to_float(d[c]) * to_float(weight[c]);
    dxr[c] = from_float<T>(to_float(dxr[c]) + r * (g - to_float(xr[c]) * r * gx_mean));
  }
}

// f(n, c) = {dout * x * rstd, 0}: the terms of dweight (no second sum).
template <class T>
struct RmsnormWeightGradTerms {
  const T* dout;
  const T* x;
  const float* rstd;
  int64_t C;
  __device__ float2 operator()(int64_t n, int64_t c) const {
    return make_float2(to_float(dout[n * C + c]) * to_float(x[n * C + c]) * rstd[n], 0.f);
  }
};

// The kernels index a row's channels with int.
void check_channels(const char* op, int64_t C) {
  KILN_CHECK(C > 0 && C <= (1 << 24), op_msg(op, "channel count " + std::to_string(C) + " out of range"));
}

unsigned row_blocks(int64_t N) { return static_cast<unsigned>(ceil_div(N, kRowsPerBlock)); }

}  // namespace

void rmsnorm_forward(Tensor out, Tensor rstd, Tensor x, Tensor weight, float eps, Stream s) {
  const char* op = "rmsnorm_forward";
  const RowDims d = check_rmsnorm_forward(kDevice, out, rstd, x, weight, eps);
  check_channels(op, d.C);
  check_compute_dtype(op, "x", x.dtype);
  check_same_dtype(op, x.dtype, {{"out", &out}, {"weight", &weight}});
  check_stat(op, "rstd", rstd);
  if (d.N == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "x", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<rmsnorm_forward_kernel<T>>(op, row_blocks(d.N), 32 * kRowsPerBlock, 0, stream, ptr<T>(out),
                                      ptr<float>(rstd), ptr<T>(x), ptr<T>(weight), d.N, int(d.C), eps);
  });
}

void residual_rmsnorm_forward(Tensor sum, Tensor out, Tensor rstd, Tensor a, Tensor b, Tensor weight, float eps,
                              Stream s) {
  const char* op = "residual_rmsnorm_forward";
  const RowDims d = check_residual_rmsnorm_forward(kDevice, sum, out, rstd, a, b, weight, eps);
  check_channels(op, d.C);
  check_compute_dtype(op, "a", a.dtype);
  check_same_dtype(op, a.dtype, {{"sum", &sum}, {"out", &out}, {"b", &b}, {"weight", &weight}});
  check_stat(op, "rstd", rstd);
  if (d.N == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "a", a.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<residual_rmsnorm_forward_kernel<T>>(op, row_blocks(d.N), 32 * kRowsPerBlock, 0, stream, ptr<T>(sum),
                                               ptr<T>(out), ptr<float>(rstd), ptr<T>(a), ptr<T>(b), ptr<T>(weight),
                                               d.N, int(d.C), eps);
  });
}

void rmsnorm_backward(Tensor dx, Tensor dweight, Tensor dout, Tensor x, Tensor weight, Tensor rstd, Stream s) {
  const char* op = "rmsnorm_backward";
  const RowDims d = check_rmsnorm_backward(kDevice, dx, dweight, dout, x, weight, rstd);
  check_channels(op, d.C);
  check_compute_dtype(op, "x", x.dtype);
  check_same_dtype(op, x.dtype, {{"dx", &dx}, {"dout", &dout}, {"weight", &weight}});
  check_grad_dtype(op, "dweight", dweight, x.dtype);
  check_stat(op, "rstd", rstd);
  if (d.N == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "x", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<rmsnorm_backward_dx_kernel<T>>(op, row_blocks(d.N), 32 * kRowsPerBlock, 0, stream, ptr<T>(dx),
                                          ptr<T>(dout), ptr<T>(x), ptr<T>(weight), ptr<float>(rstd), d.N, int(d.C));
    const RmsnormWeightGradTerms<T> f{ptr<T>(dout), ptr<T>(x), ptr<float>(rstd), d.C};
    dispatch_grad<T>(dweight.dtype, [&](auto wtag) {
      using W = decltype(wtag);
      colsum_accumulate<W, float>(op, ptr<W>(dweight), static_cast<float*>(nullptr), d.N, d.C, f, stream);
    });
  });
}

}  // namespace kernels::cuda
