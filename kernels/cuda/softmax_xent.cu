// kernels/cuda/softmax_xent.cu
// Fused softmax + cross-entropy over rows of logits on the GPU: one block per row, an online
// (running max, running sum) pass over the real vocabulary, then the loss and, optionally, dlogits
// written over the same row (in place when dlogits aliases logits). fp32 math; the logits of the
// whole batch are never copied to fp32. Called through kernels::cuda::kOps by the model's loss.
// Mirrors kernels/cpu/softmax_xent.h. Not here: the mean over tokens (the caller folds 1/N into
// dloss), vocab-parallel softmax under TP.
//
// Row n, Vr = vocab_real, V = padded vocab:
//   loss_n = log(sum_c<Vr exp(x_c - M)) - (x_target - M)      (0 when target < 0)
//   dlogits_n[c] = (exp(x_c - M) / S - [c == target]) * dloss  for c < Vr; 0 for c >= Vr;
//   the whole row 0 when target < 0.
// Aliasing is safe: every read of the row (pass 1 and the target logit) happens before the
// block-wide reduction, whose __syncthreads separate them from pass 2, where each thread reads
// x_c just before overwriting the same element.
#include <cfloat>
#include <cstdio>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kThreads = 512;

// Merges running (max, sum of exp(x - max)) pairs. -FLT_MAX (not -inf) marks "no element yet",
// so exp(m - mn) never sees (-inf) - (-inf).
__device__ __forceinline__ void ms_merge(float& m, float& s, float m2, float s2) {
  const float mn = fmaxf(m, m2);
  s = s * expf(m - mn) + s2 * expf(m2 - mn);
  m = mn;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    softmax_xent_kernel(float* losses, T* dlogits, const T* logits, const int32_t* targets, int64_t V, int Vr,
                        float dloss) {
  __shared__ float m_s[kThreads / 32], s_s[kThreads / 32];
  const int64_t row = blockIdx.x;
  const int32_t target = targets[row];
  const T* x = logits + row * V;
  T* dx = dlogits != nullptr ? dlogits + row * V : nullptr;
  if (target < 0) {  // ignored position: uniform for the whole block, so returning is safe
    if (threadIdx.x == 0) losses[row] = 0.f;
    if (dx != nullptr)
      for (int64_t c = threadIdx.x; c < V; c += kThreads) dx[c] = from_float<T>(0.f);
    return;
  }
  if (target >= Vr) {
    if (threadIdx.x == 0)
      printf("kiln softmax_xent: target %d at row %lld is not below vocab_real=%d\n", target, (long long)row, Vr);
    __trap();
  }
  // Pass 1: this thread's running max and sum over its strided share of the real columns.
  float m = -FLT_MAX, s = 0.f;
  for (int c = threadIdx.x; c < Vr; c += kThreads) {
    const float v = to_float(x[c]);
    if (v > m) {
      s = s * expf(m - v) + 1.f;
      m = v;
    } else {
      s += expf(v - m);
    }
  }
  const float x_target = to_float(x[target]);
  // Merge across the warp (butterfly: every lane ends with the warp's pair), then across warps.
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
    ms_merge(m, s, m2, s2);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    m_s[warp] = m;
    s_s[warp] = s;
  }
  __syncthreads();
  float M = m_s[0], S = s_s[0];
  for (int w = 1; w < kThreads / 32; ++w) ms_merge(M, S, m_s[w], s_s[w]);  // same order in every thread
  if (threadIdx.x == 0) losses[row] = logf(S) - (x_target - M);
  if (dx == nullptr) return;
  // Pass 2: gradients. Reads of x happened-before via the __syncthreads above.
  const float inv_sum = 1.f / S;
  for (int c = threadIdx.x; c < Vr; c += kThreads) {
    const float p = expf(to_float(x[c]) - M) * inv_sum;
    dx[c] = from_float<T>((p - (c == target ? 1.f : 0.f)) * dloss);
  }
  for (int64_t c = Vr + threadIdx.x; c < V; c += kThreads) dx[c] = from_float<T>(0.f);
}

}  // namespace

void softmax_xent(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, int vocab_real, float dloss, Stream s) {
  const char* op = "softmax_xent";
  const RowDims d = check_softmax_xent(kDevice, losses, dlogits, logits, targets, vocab_real);
  const int64_t N = d.N, V = d.C;
  check_stat(op, "losses", losses);
  check_compute_dtype(op, "logits", logits.dtype);
  check_same_dtype(op, logits.dtype, {{"dlogits", &dlogits}});
  KILN_CHECK(N <= INT32_MAX, op_msg(op, "too many rows: " + std::to_string(N)));
  if (N == 0) return;
  // Target ids are validated on the device (a bad id traps with a printed message): checking them
  // on the host would cost a copy and a synchronization per call.
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "logits", logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<softmax_xent_kernel<T>>(op, static_cast<unsigned>(N), kThreads, 0, stream, ptr<float>(losses),
                                   ptr_or_null<T>(dlogits), ptr<T>(logits), ptr<int32_t>(targets), V, vocab_real,
                                   dloss);
  });
}

}  // namespace kernels::cuda
