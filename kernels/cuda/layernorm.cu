// kernels/cuda/layernorm.cu
// LayerNorm forward and backward on the GPU, fp32 math whatever the storage dtype.
// Called through kernels::cuda::kOps. Mirrors kernels/cpu/layernorm.h (eps 1e-5, two-pass
// variance, the same dx formula).
//
// forward:  one warp per row (8 rows per 256-thread block): mean, then sum (x-mean)^2, then the
//           output; rows of a few thousand channels stay in L1 between the three reads.
//           residual_layernorm_forward: the same warp first writes its row of sum = a + b (rounded
//           to T) and then normalises the row it wrote, each lane reading back its own elements:
//           one pass over the stream instead of the residual kernel's plus the norm's.
// backward: (1) one warp per row: dx += rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout*w;
//           (2) dweight += sum_n dout * xhat, dbias += sum_n dout: a deterministic two-pass column
//           reduction (colsum.cuh), never atomics.
#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // warps per block
constexpr float kEps = float(kLayernormEps);  // the op contract's epsilon (kernels/ops.h)

// One warp normalises row `row` of x (C channels) into out, mean, rstd. Lane l reads channels
// l, l + 32, ...: the stride the fused kernel writes sum with, so each lane reads back its own stores.
template <class T>
__device__ void layernorm_warp_row(T* out, float* mean, float* rstd, const T* x, const T* weight, const T* bias,
                                   int64_t row, int C, int lane) {
  const T* xr = x + row * C;
  float sum = 0.f;
  for (int c = lane; c < C; c += 32) sum += to_float(xr[c]);
  const float m = warp_sum(sum) / float(C);
  float var = 0.f;
  for (int c = lane; c < C; c += 32) {
    const float d = to_float(xr[c]) - m;
    var += d * d;
  }
  var = warp_sum(var) / float(C);
  const float r = 1.0f / sqrtf(var + kEps);  // IEEE sqrt and division (no fast-math), as the CPU
  T* o = out + row * C;
  for (int c = lane; c < C; c += 32)
    o[c] = from_float<T>((to_float(xr[c]) - m) * r * to_float(weight[c]) + to_float(bias[c]));
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

template <class T>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    layernorm_forward_kernel(T* out, float* mean, float* rstd, const T* x, const T* weight, const T* bias, int64_t N,
                             int C) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  if (row >= N) return;  // whole warp leaves together: no shuffle is left half-populated
  layernorm_warp_row(out, mean, rstd, x, weight, bias, row, C, int(threadIdx.x % 32));
}

// sum = a + b (rounded to T), then LayerNorm of the stored sum; sum may alias a or b exactly (each
// element is read before the same lane writes it).
template <class T>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    residual_layernorm_forward_kernel(T* sum, T* out, float* mean, float* rstd, const T* a, const T* b,
                                      const T* weight, const T* bias, int64_t N, int C) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= N) return;
  const int64_t base = row * C;
  for (int c = lane; c < C; c += 32) sum[base + c] = from_float<T>(to_float(a[base + c]) + to_float(b[base + c]));
  layernorm_warp_row(out, mean, rstd, sum, weight, bias, row, C, lane);
}

// dx (N,C) += ..., read and written in its own dtype with one rounding.
template <class T>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    layernorm_backward_dx_kernel(T* dx, const T* dout, const T* x, const T* weight, const float* mean,
                                 const float* rstd, int64_t N, int C) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= N) return;
  const T* xr = x + row * C;
  const T* d = dout + row * C;
  const float m = mean[row], r = rstd[row];
  float g_sum = 0.f, gx_sum = 0.f;
  for (int c = lane; c < C; c += 32) {
    const float g = to_float(d[c]) * to_float(weight[c]);
    g_sum += g;
    gx_sum += g * (to_float(xr[c]) - m) * r;
  }
  const float g_mean = warp_sum(g_sum) / float(C);
  const float gx_mean = warp_sum(gx_sum) / float(C);
  T* dxr = dx + row * C;
  for (int c = lane; c < C; c += 32) {
    const float xhat = (to_float(xr[c]) - m) * r;
    const float g = to_float(d[c]) * to_float(weight[c]);
    dxr[c] = from_float<T>(to_float(dxr[c]) + r * (g - g_mean - xhat * gx_mean));
  }
}

// f(n, c) = {dout * xhat, dout}: the terms of dweight and dbias.
template <class T>
struct LayernormParamGradTerms {
  const T* dout;
  const T* x;
  const float* mean;
  const float* rstd;
  int64_t C;
  __device__ float2 operator()(int64_t n, int64_t c) const {
    const float d = to_float(dout[n * C + c]);
    const float xhat = (to_float(x[n * C + c]) - mean[n]) * rstd[n];
    return make_float2(d * xhat, d);
  }
};

// The kernels index a row's channels with int.
void check_channels(const char* op, int64_t C) {
  KILN_CHECK(C > 0 && C <= (1 << 24), op_msg(op, "channel count " + std::to_string(C) + " out of range"));
}

unsigned row_blocks(int64_t N) { return static_cast<unsigned>(ceil_div(N, kRowsPerBlock)); }

}  // namespace

void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias, Stream s) {
  const char* op = "layernorm_forward";
  const RowDims d = check_layernorm_forward(kDevice, out, mean, rstd, x, weight, bias);
  const int64_t N = d.N, C = d.C;
  check_channels(op, C);
  check_compute_dtype(op, "x", x.dtype);
  check_same_dtype(op, x.dtype, {{"out", &out}, {"weight", &weight}, {"bias", &bias}});
  check_stat(op, "mean", mean);
  check_stat(op, "rstd", rstd);
  if (N == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "x", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<layernorm_forward_kernel<T>>(op, row_blocks(N), 32 * kRowsPerBlock, 0, stream, ptr<T>(out),
                                        ptr<float>(mean), ptr<float>(rstd), ptr<T>(x), ptr<T>(weight), ptr<T>(bias), N,
                                        int(C));
  });
}

void residual_layernorm_forward(Tensor sum, Tensor out, Tensor mean, Tensor rstd, Tensor a, Tensor b, Tensor weight,
                                Tensor bias, Stream s) {
  const char* op = "residual_layernorm_forward";
  const RowDims d = check_residual_layernorm_forward(kDevice, sum, out, mean, rstd, a, b, weight, bias);
  check_channels(op, d.C);
  check_compute_dtype(op, "a", a.dtype);
  check_same_dtype(op, a.dtype, {{"sum", &sum}, {"out", &out}, {"b", &b}, {"weight", &weight}, {"bias", &bias}});
  check_stat(op, "mean", mean);
  check_stat(op, "rstd", rstd);
  if (d.N == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "a", a.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<residual_layernorm_forward_kernel<T>>(op, row_blocks(d.N), 32 * kRowsPerBlock, 0, stream, ptr<T>(sum),
                                                 ptr<T>(out), ptr<float>(mean), ptr<float>(rstd), ptr<T>(a), ptr<T>(b),
                                                 ptr<T>(weight), ptr<T>(bias), d.N, int(d.C));
  });
}

void layernorm_backward(Tensor dx, Tensor dweight, Tensor dbias, Tensor dout, Tensor x, Tensor weight, Tensor mean,
                        Tensor rstd, Stream s) {
  const char* op = "layernorm_backward";
  const RowDims d = check_layernorm_backward(kDevice, dx, dweight, dbias, dout, x, weight, mean, rstd);
  const int64_t N = d.N, C = d.C;
  check_channels(op, C);
  check_compute_dtype(op, "x", x.dtype);
  check_same_dtype(op, x.dtype, {{"dx", &dx}, {"dout", &dout}, {"weight", &weight}});
  check_grad_dtype(op, "dweight", dweight, x.dtype);
  check_grad_dtype(op, "dbias", dbias, x.dtype);
  check_stat(op, "mean", mean);
  check_stat(op, "rstd", rstd);
  if (N == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "x", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<layernorm_backward_dx_kernel<T>>(op, row_blocks(N), 32 * kRowsPerBlock, 0, stream, ptr<T>(dx),
                                            ptr<T>(dout), ptr<T>(x), ptr<T>(weight), ptr<float>(mean),
                                            ptr<float>(rstd), N, int(C));
    const LayernormParamGradTerms<T> f{ptr<T>(dout), ptr<T>(x), ptr<float>(mean), ptr<float>(rstd), C};
    dispatch_grad<T>(dweight.dtype, [&](auto wtag) {
      using W = decltype(wtag);
      dispatch_grad<T>(dbias.dtype, [&](auto btag) {
        using Bt = decltype(btag);
        colsum_accumulate<W, Bt>(op, ptr<W>(dweight), ptr<Bt>(dbias), N, C, f, stream);
      });
    });
  });
}

}  // namespace kernels::cuda
