// kernels/cuda/rope.cu
// Rotary position embedding on the GPU, forward and backward, in place on the q and k heads of a
// (B,T,(NH+2*NKV)*hs) qkv tensor. Called through kernels::cuda::kOps. Mirrors kernels/cpu/rope.h:
// Hugging Face's rotate-half pairing (channel i with i + hs/2), angle = (pos0 + t) * theta^(-2i/hs)
// computed in double, cos and sin in double and rounded to fp32 once, so the rotation matches the
// CPU reference at any position (an fp32 angle would be off by ~1e-4 rad at position 2048).
//
// Grid: one block per token row (b,t); block (32, 8): threadIdx.x walks the hs/2 channel pairs,
// threadIdx.y the NH + NKV heads, so each thread computes its pairs' cos/sin once per row and
// applies them to every head it visits. Each element pair is read and written by one thread.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kPairThreads = 32, kHeadThreads = 8;

template <class T>
__global__ void __launch_bounds__(kPairThreads* kHeadThreads)
    rope_kernel(T* qkv, int T_len, int W, int heads, int hs, int pos0, double theta, float sign) {
  const int64_t row = blockIdx.x;  // b * T + t
  const int t = int(row % T_len), half = hs / 2;
  const double pos = double(pos0 + t);
  T* x = qkv + row * int64_t(W);
  for (int i = threadIdx.x; i < half; i += kPairThreads) {
    const double angle = pos * pow(theta, -double(2 * i) / double(hs));
    const float c = float(cos(angle)), s = sign * float(sin(angle));
    for (int h = threadIdx.y; h < heads; h += kHeadThreads) {
      T* p = x + h * hs;
      const float x1 = to_float(p[i]), x2 = to_float(p[i + half]);
      p[i] = from_float<T>(x1 * c - x2 * s);
      p[i + half] = from_float<T>(x2 * c + x1 * s);
    }
  }
}

void rope(const char* op, const AttentionDims& d, Tensor& x, int pos0, float theta, float sign, Stream s) {
  check_compute_dtype(op, "qkv", x.dtype);
  KILN_CHECK(d.B * d.T <= INT32_MAX && d.W <= INT32_MAX,
             op_msg(op, "qkv " + x.shape.str() + " exceeds the kernel's index ranges"));
  if (d.B == 0 || d.T == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "qkv", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<rope_kernel<T>>(op, static_cast<unsigned>(d.B * d.T), dim3(kPairThreads, kHeadThreads), 0, stream,
                           ptr<T>(x), int(d.T), int(d.W), int(d.NH + d.NKV), int(d.hs), pos0, double(theta), sign);
  });
}

}  // namespace

void rope_forward(Tensor qkv, int n_head, int n_kv_head, int pos0, float theta, Stream s) {
  rope("rope_forward", check_rope_forward(kDevice, qkv, n_head, n_kv_head, pos0, theta), qkv, pos0, theta, 1.f, s);
}

void rope_backward(Tensor dqkv, int n_head, int n_kv_head, int pos0, float theta, Stream s) {
  rope("rope_backward", check_rope_backward(kDevice, dqkv, n_head, n_kv_head, pos0, theta), dqkv, pos0, theta, -1.f,
       s);
}

}  // namespace kernels::cuda
