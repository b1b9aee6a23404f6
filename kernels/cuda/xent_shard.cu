// kernels/cuda/xent_shard.cu
// Vocab-parallel cross-entropy on one shard of the logits, on the GPU: the three passes that
// parallel/tp_vocab.cpp wraps around two tp all-reduces (global max, then sums). One block per
// row, fp32 statistics, deterministic block reductions. Called through kernels::cuda::kOps.
// Mirrors kernels/cpu/xent_shard.h. Not here: the all-reduces; the single-GPU fused loss
// (softmax_xent.cu), which the model uses when tp == 1.
//
// logits (N, Vs) hold global columns [start, start+Vs); global columns >= Vr are padding, so the
// shard's real columns are [0, real) with real = clamp(Vr - start, 0, Vs).
//   max:    row_max[n] = max over real columns (-inf if none)
//   sumexp: row_sumexp[n] = sum over real columns of exp(x - row_max[n]) (row_max: global max);
//           target_logit[n] = x[target - start] - row_max[n] if the target is a real column here, else 0
//   finish: losses[n] = log(row_sumexp) - target_logit (0 for target < 0); dlogits optional =
//           (exp(x - row_max) / row_sumexp - onehot) * dloss on real columns, 0 elsewhere and on
//           ignored rows. dlogits may alias logits: each element is read, then written, by one thread.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kThreads = 512;

__host__ __device__ inline int64_t shard_real_columns(int64_t start, int64_t Vs, int64_t Vr) {
  const int64_t r = Vr - start;
  return r < 0 ? 0 : (r > Vs ? Vs : r);
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    xent_shard_max_kernel(float* row_max, const T* logits, int64_t Vs, int64_t real) {
  __shared__ float shared[32];
  const T* x = logits + int64_t(blockIdx.x) * Vs;
  float m = -INFINITY;
  for (int64_t c = threadIdx.x; c < real; c += kThreads) m = fmaxf(m, to_float(x[c]));
  m = block_max(m, shared);
  if (threadIdx.x == 0) row_max[blockIdx.x] = m;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    xent_shard_sumexp_kernel(float* row_sumexp, float* target_logit, const T* logits, const int32_t* targets,
                             const float* row_max, int64_t Vs, int64_t start, int64_t real) {
  __shared__ float shared[32];
  const int64_t n = blockIdx.x;
  const T* x = logits + n * Vs;
  const float m = row_max[n];
  float sum = 0.f;
  for (int64_t c = threadIdx.x; c < real; c += kThreads) sum += expf(to_float(x[c]) - m);
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) {
    row_sumexp[n] = sum;
    const int64_t t = int64_t(targets[n]) - start;
    target_logit[n] = (targets[n] >= 0 && t >= 0 && t < real) ? to_float(x[t]) - m : 0.f;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    xent_shard_finish_kernel(float* losses, T* dlogits, const T* logits, const int32_t* targets, const float* row_max,
                             const float* row_sumexp, const float* target_logit, int64_t Vs, int64_t start,
                             int64_t real, float dloss) {
  const int64_t n = blockIdx.x;
  const bool ignored = targets[n] < 0;
  if (threadIdx.x == 0) losses[n] = ignored ? 0.f : logf(row_sumexp[n]) - target_logit[n];
  if (dlogits == nullptr) return;
  T* dx = dlogits + n * Vs;
  const T* x = logits + n * Vs;
  const int64_t t = int64_t(targets[n]) - start;
  const float m = row_max[n], inv_sum = 1.f / row_sumexp[n];
  for (int64_t c = threadIdx.x; c < Vs; c += kThreads) {
    if (ignored || c >= real) {
      dx[c] = from_float<T>(0.f);
      continue;
    }
    const float p = expf(to_float(x[c]) - m) * inv_sum;
    dx[c] = from_float<T>((p - (c == t ? 1.f : 0.f)) * dloss);
  }
}

// This backend's rules on shapes that passed the op's checks: one compute dtype for the logits,
// fp32 statistics, and a row count that fits the grid. Returns {N, Vs}.
std::pair<int64_t, int64_t> kernel_rows(const char* op, const RowDims& d, const Tensor& logits,
                                        std::initializer_list<NamedTensor> stats) {
  check_compute_dtype(op, "logits", logits.dtype);
  KILN_CHECK(d.N <= INT32_MAX, op_msg(op, "too many rows: " + std::to_string(d.N)));
  for (const NamedTensor& r : stats) check_stat(op, r.name, *r.t);
  return {d.N, d.C};
}

}  // namespace

void xent_shard_max(Tensor row_max, Tensor logits, int vocab_start, int vocab_real, Stream s) {
  const char* op = "xent_shard_max";
  const auto [N, Vs] = kernel_rows(op, check_xent_shard_max(kDevice, row_max, logits), logits, {{"row_max", &row_max}});
  if (N == 0) return;
  const int64_t real = shard_real_columns(vocab_start, Vs, vocab_real);
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "logits", logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<xent_shard_max_kernel<T>>(op, unsigned(N), kThreads, 0, stream, ptr<float>(row_max), ptr<T>(logits), Vs,
                                     real);
  });
}

void xent_shard_sumexp(Tensor row_sumexp, Tensor target_logit, Tensor logits, Tensor targets, Tensor row_max,
                       int vocab_start, int vocab_real, Stream s) {
  const char* op = "xent_shard_sumexp";
  const auto [N, Vs] =
      kernel_rows(op, check_xent_shard_sumexp(kDevice, row_sumexp, target_logit, logits, targets, row_max), logits,
                  {{"row_sumexp", &row_sumexp}, {"target_logit", &target_logit}, {"row_max", &row_max}});
  if (N == 0) return;
  const int64_t real = shard_real_columns(vocab_start, Vs, vocab_real);
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "logits", logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<xent_shard_sumexp_kernel<T>>(op, unsigned(N), kThreads, 0, stream, ptr<float>(row_sumexp),
                                        ptr<float>(target_logit), ptr<T>(logits), ptr<int32_t>(targets),
                                        ptr<float>(row_max), Vs, vocab_start, real);
  });
}

void xent_shard_finish(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, Tensor row_max, Tensor row_sumexp,
                       Tensor target_logit, int vocab_start, int vocab_real, float dloss, Stream s) {
  const char* op = "xent_shard_finish";
  const auto [N, Vs] = kernel_rows(
      op, check_xent_shard_finish(kDevice, losses, dlogits, logits, targets, row_max, row_sumexp, target_logit), logits,
      {{"losses", &losses}, {"row_max", &row_max}, {"row_sumexp", &row_sumexp}, {"target_logit", &target_logit}});
  check_same_dtype(op, logits.dtype, {{"dlogits", &dlogits}});
  if (N == 0) return;
  const int64_t real = shard_real_columns(vocab_start, Vs, vocab_real);
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "logits", logits.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<xent_shard_finish_kernel<T>>(op, unsigned(N), kThreads, 0, stream, ptr<float>(losses),
                                        ptr_or_null<T>(dlogits), ptr<T>(logits), ptr<int32_t>(targets),
                                        ptr<float>(row_max), ptr<float>(row_sumexp), ptr<float>(target_logit), Vs,
                                        vocab_start, real, dloss);
  });
}

}  // namespace kernels::cuda
