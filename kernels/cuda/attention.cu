// kernels/cuda/attention.cu
// Causal self-attention on the GPU, forward, backward and over a KV cache: the CUDA backend's
// only attention entry points (kernels::cuda::kOps), grouped-query throughout (n_head query heads
// on n_kv_head key/value heads; query head h reads kv head h / (n_head / n_kv_head); n_kv_head ==
// n_head is GPT-2's multi-head attention). bf16/fp16 calls with head size 64 or 128 go to the
// tensor-core kernels (flash_attention.h); everything else (fp32, other head sizes, unaligned
// views) to our own flash-attention style CUDA-core kernels (attention_kernels.cuh), fp32 math in
// registers, any head size up to 128.
// Mirrors kernels/cpu/attention.h exactly in semantics: forward writes out and lse = logsumexp of
// each scaled, masked score row; backward rebuilds P = exp(S - lse) from q, k and lse, uses
// D = rowsum(dout * out), and overwrites all of dqkv (dk, dv of a kv head summed over its query
// heads). The (T,T) score matrix is never stored; extra memory is one fp32 D value per (b, h, t).
// attention_cached_forward (generation over a KV cache of n_kv_head heads) is at the end.
// Not here: dropout, non-causal masks, tensor parallelism (the caller passes its heads).
//
// Design (correctness first; every block is independent and nothing uses atomics, so results
// are deterministic):
//   forward    grid (T/64 query tiles, NH, B), 64 query rows per block, G = D/32 threads per row.
//              K and V tiles of 32 keys (of the block's kv head) are staged in shared memory as
//              fp32 (2 x 32 x D floats: 16 KiB for D = 64); q, the output accumulator and the
//              tile's 32 scores live in registers; online softmax (running max / sum) across tiles.
//   backward   (1) D = rowsum(dout * out), one warp per row, into per-stream scratch;
//              (2) dK, dV: grid (T/64 key tiles, NKV, B); each block keeps its 64 keys' k, v, dk,
//                  dv in registers and, for each query head of the group in turn, streams 32-row
//                  tiles of q, dout, lse, D through shared memory from the diagonal to T-1 (the
//                  group's sum without atomics, in a fixed order);
//              (3) dQ: grid like the forward; q, dout, dq in registers, K/V tiles in shared memory.
//              Splitting dQ from dK/dV recomputes P twice but avoids atomics on dq.
//
// Expected performance on an H100 (not measured yet): these are CUDA-core fp32 FMA loops, bound
// by shared-memory bandwidth and FMA throughput (~50-60 TFLOP/s peak fp32, realistically
// 10-25 TFLOP/s here), versus ~990 TFLOP/s of bf16 tensor cores for the matmuls. For GPT-2 124M at
// T=1024 attention is ~13% of the model FLOPs but will likely dominate the step time.
// Next steps for speed, in order:
//   1. tensor cores: done for bf16/fp16 at head sizes 64 and 128 (flash_attention.cu: the
//      FlashAttention-2 layout on mma.sync m16n8k16); fp32 and other head sizes stay here;
//   2. Hopper: wgmma + TMA with a producer/consumer warpgroup split (FlashAttention-3);
//   3. or cuDNN's fused SDPA through the backend graph API (no frontend header available here):
//      CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR / _SDPA_BWD_DESCRIPTOR, with q/k/v described as
//      strided views into qkv (stride 3C between tokens) and the stats tensor = our lse. The
//      dedicated SDPA op has no causal flag in 9.19's header (only a block mask), so causal needs
//      either a block mask or the MATMUL + POINTWISE(GEN_INDEX, CMP_GE, BINARY_SELECT) graph.
//   Any of these must keep this file's contract (lse saved, P rebuilt from lse in backward) and is
//   checked against this kernel and the CPU reference by tests/kernels_cuda.
#include <cmath>
#include <type_traits>

#include "kernels/cuda/attention_kernels.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kBlockRows = 64;  // query rows per block (forward, dQ) = keys per block (dK/dV)
constexpr int kTileRows = 32;   // rows per shared-memory tile (keys in forward/dQ, queries in dK/dV)
constexpr int kMaxHeadSize = 128;

// The kernels' limits on shapes that passed the op's checks: grid dimensions, int indices, and a
// head size of at most 128.
AttnGeometry kernel_geometry(const char* op, const AttentionDims& d, const Tensor& qkv) {
  KILN_CHECK(d.B <= 65535 && d.T <= (1 << 30) && d.W <= INT32_MAX,
             op_msg(op, "qkv " + qkv.shape.str() + " exceeds the kernel's index ranges"));
  KILN_CHECK(d.hs <= kMaxHeadSize,
             op_msg(op, "head size " + std::to_string(d.hs) + " exceeds the CUDA kernel's maximum of " +
                            std::to_string(kMaxHeadSize)));
  // scale as the CPU reference: Real(1) / sqrt(Real(hs))
  return AttnGeometry{int(d.T), int(d.NH), int(d.NKV), int(d.hs), d.W, d.C, 1.0f / std::sqrt(float(d.hs))};
}

// Calls fn(std::integral_constant<int, D>{}) with D = the head size padded to 32, 64 or 128.
template <class Fn>
void dispatch_head(int hs, Fn&& fn) {
  if (hs <= 32)
    fn(std::integral_constant<int, 32>{});
  else if (hs <= 64)
    fn(std::integral_constant<int, 64>{});
  else
    fn(std::integral_constant<int, 128>{});
}

}  // namespace

void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s) {
  const char* op = "attention_forward";
  const AttentionDims d = check_attention_forward(kDevice, out, lse, qkv, n_head, n_kv_head);
  check_compute_dtype(op, "qkv", qkv.dtype);
  check_same_dtype(op, qkv.dtype, {{"out", &out}});
  check_stat(op, "lse", lse);
  if (flash_attention_applies(qkv.dtype, d.hs, {qkv, out})) {  // bf16/fp16, head size 64 or 128
    attention_gqa_forward(out, lse, qkv, n_head, n_kv_head, s);
    return;
  }
  const AttnGeometry a = kernel_geometry(op, d, qkv);
  if (d.B == 0 || d.T == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  const dim3 grid(static_cast<unsigned>(ceil_div(a.T_len, kBlockRows)), unsigned(a.NH), unsigned(d.B));
  dispatch_float(op, "qkv", qkv.dtype, [&](auto tag) {
    using T = decltype(tag);
    dispatch_head(a.hs, [&](auto dc) {
      constexpr int D = decltype(dc)::value;
      launch<attention_forward_kernel<T, D, kBlockRows, kTileRows>>(op, grid, kBlockRows * AttnShape<D>::G, 0, stream,
                                                                    ptr<T>(out), ptr<float>(lse), ptr<T>(qkv), a);
    });
  });
}

void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, int n_kv_head,
                        Stream s) {
  const char* op = "attention_backward";
  const AttentionDims d = check_attention_backward(kDevice, dqkv, dout, qkv, out, lse, n_head, n_kv_head);
  check_compute_dtype(op, "qkv", qkv.dtype);
  check_same_dtype(op, qkv.dtype, {{"dqkv", &dqkv}, {"dout", &dout}, {"out", &out}});
  check_stat(op, "lse", lse);
  if (flash_attention_applies(qkv.dtype, d.hs, {qkv, dqkv, dout, out})) {
    attention_gqa_backward(dqkv, dout, qkv, out, lse, n_head, n_kv_head, s);
    return;
  }
  const AttnGeometry a = kernel_geometry(op, d, qkv);
  if (d.B == 0 || d.T == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  const int64_t rows = d.B * d.NH * d.T;
  float* Drow = static_cast<float*>(scratch(sizeof(float) * size_t(rows), stream));
  const unsigned q_tiles = static_cast<unsigned>(ceil_div(a.T_len, kBlockRows));
  const dim3 dq_grid(q_tiles, unsigned(a.NH), unsigned(d.B));     // one block per (query tile, query head)
  const dim3 dkdv_grid(q_tiles, unsigned(a.NKV), unsigned(d.B));  // one block per (key tile, kv head)
  dispatch_float(op, "qkv", qkv.dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kDThreads = 256;  // 8 rows per block
    launch<attention_backward_d_kernel<T>>(op, static_cast<unsigned>(ceil_div(rows, kDThreads / 32)), kDThreads, 0,
                                           stream, Drow, ptr<T>(dout), ptr<T>(out), int(d.B), a.T_len, int(a.C), a.NH,
                                           a.hs);
    dispatch_head(a.hs, [&](auto dc) {
      constexpr int D = decltype(dc)::value;
      constexpr int threads = kBlockRows * AttnShape<D>::G;
      launch<attention_backward_dkdv_kernel<T, D, kBlockRows, kTileRows>>(
          op, dkdv_grid, threads, 0, stream, ptr<T>(dqkv), ptr<T>(dout), ptr<T>(qkv), ptr<float>(lse), Drow, a);
      launch<attention_backward_dq_kernel<T, D, kBlockRows, kTileRows>>(
          op, dq_grid, threads, 0, stream, ptr<T>(dqkv), ptr<T>(dout), ptr<T>(qkv), ptr<float>(lse), Drow, a);
    });
  });
}

// ---- generation: attention over a KV cache ----------------------------------------------------
// Decoding is one token at a time (n = 1 after the prompt), so this is bandwidth-bound on reading
// the cache and a simple kernel serves: one block per (new token, query head), the scores of its
// keys in shared memory (fp32), block reductions for the max and the sum, then threads over the
// head's channels accumulate p_j v_j in fp32. Same math and rounding points as the CPU reference.
// The caches hold the NKV kv heads, (maxT, KC = NKV*hs); query head h reads kv head h / group.

namespace {

constexpr int kCachedThreads = 128;

template <class T>
__global__ void append_kv_kernel(T* k_cache, T* v_cache, const T* qkv, int pos0, int n, int64_t W, int64_t C,
                                 int64_t KC) {
  // qkv row i: q (C) | k (KC) | v (KC); cache row pos0 + i: KC channels.
  const int64_t total = int64_t(n) * KC;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / KC, c = e % KC;
    k_cache[(pos0 + i) * KC + c] = qkv[i * W + C + c];
    v_cache[(pos0 + i) * KC + c] = qkv[i * W + C + KC + c];
  }
}

template <class T>
__global__ void attention_cached_kernel(T* out, const T* qkv, const T* k_cache, const T* v_cache, int pos0, int64_t W,
                                        int64_t C, int64_t KC, int hs, int group, float scale) {
  KILN_DYNAMIC_SHARED(float, scores);  // (keys)
  __shared__ float reduce_scratch[32];
  const int i = blockIdx.x, h = blockIdx.y, kh = h / group, keys = pos0 + i + 1;
  const T* q = qkv + int64_t(i) * W + int64_t(h) * hs;
  const T* k_head = k_cache + int64_t(kh) * hs;
  const T* v_head = v_cache + int64_t(kh) * hs;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < keys; j += blockDim.x) {
    const T* k = k_head + int64_t(j) * KC;
    float dot = 0.f;
    for (int d = 0; d < hs; ++d) dot += to_float(q[d]) * to_float(k[d]);
    scores[j] = dot * scale;
    m = fmaxf(m, scores[j]);
  }
  m = block_max(m, reduce_scratch);
  float sum = 0.f;
  for (int j = threadIdx.x; j < keys; j += blockDim.x) {
    scores[j] = expf(scores[j] - m);
    sum += scores[j];
  }
  sum = block_sum(sum, reduce_scratch);  // contains __syncthreads: every score is written
  const float inv = 1.f / sum;
  for (int d = threadIdx.x; d < hs; d += blockDim.x) {
    float acc = 0.f;
    for (int j = 0; j < keys; ++j) acc += scores[j] * inv * to_float(v_head[int64_t(j) * KC + d]);
    out[int64_t(i) * C + int64_t(h) * hs + d] = from_float<T>(acc);
  }
}

}  // namespace

void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head,
                              int n_kv_head, Stream s) {
  const char* op = "attention_cached_forward";
  const AttentionDims d = check_attention_cached_forward(kDevice, out, qkv, k_cache, v_cache, pos0, n_head, n_kv_head);
  const int64_t n = d.T, KC = d.NKV * d.hs;
  const int64_t max_t = k_cache.dim(0);
  // The scores of one row live in shared memory: 48 KiB by default holds 12288 positions.
  KILN_CHECK(max_t * int64_t(sizeof(float)) <= 48 * 1024,
             op_msg(op, "a cache of " + std::to_string(max_t) + " positions exceeds the kernel's 12288"));
  check_same_dtype(op, qkv.dtype, {{"out", &out}, {"k_cache", &k_cache}, {"v_cache", &v_cache}});
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  const float scale = 1.0f / std::sqrt(float(d.hs));
  dispatch_float(op, "qkv", qkv.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<append_kv_kernel<T>>(op, grid_for(n * KC, 256), 256, 0, stream, ptr<T>(k_cache), ptr<T>(v_cache),
                                ptr<T>(qkv), pos0, int(n), d.W, d.C, KC);
    const dim3 grid{unsigned(n), unsigned(d.NH)};
    const size_t shared = size_t(pos0 + n) * sizeof(float);
    launch<attention_cached_kernel<T>>(op, grid, kCachedThreads, shared, stream, ptr<T>(out), ptr<T>(qkv),
                                       ptr<T>(k_cache), ptr<T>(v_cache), pos0, d.W, d.C, KC, int(d.hs),
                                       int(d.NH / d.NKV), scale);
  });
}

}  // namespace kernels::cuda
