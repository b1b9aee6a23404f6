// kernels/cuda/attention.cu
// Causal multi-head self-attention on the GPU, forward and backward: our own flash-attention
// style kernels (attention_kernels.cuh), fp32 math in registers, any head size up to 128.
// Called through kernels::cuda::kOps. Mirrors kernels/cpu/attention.h exactly in semantics:
// forward writes out and lse = logsumexp of each scaled, masked score row; backward rebuilds
// P = exp(S - lse) from q, k and lse, uses D = rowsum(dout * out), and overwrites all of dqkv.
// The (T,T) score matrix is never stored; extra memory is one fp32 D value per (b, h, t).
// Not here: dropout, non-causal masks, KV caches, tensor parallelism (the caller passes its heads).
//
// Design (correctness first; every block is independent and nothing uses atomics, so results
// are deterministic):
//   forward    grid (T/64 query tiles, NH, B), 64 query rows per block, G = D/32 threads per row.
//              K and V tiles of 32 keys are staged in shared memory as fp32 (2 x 32 x D floats:
//              16 KiB for D = 64); q, the output accumulator and the tile's 32 scores live in
//              registers; online softmax (running max / sum) across tiles.
//   backward   (1) D = rowsum(dout * out), one warp per row, into per-stream scratch;
//              (2) dK, dV: grid (T/64 key tiles, NH, B); each block keeps its 64 keys' k, v, dk,
//                  dv in registers and streams 32-row tiles of q, dout, lse, D through shared
//                  memory from the diagonal to T-1;
//              (3) dQ: grid like the forward; q, dout, dq in registers, K/V tiles in shared memory.
//              Splitting dQ from dK/dV recomputes P twice but avoids atomics on dq.
//
// Expected performance on an H100 (not measured yet): these are CUDA-core fp32 FMA loops, bound
// by shared-memory bandwidth and FMA throughput (~50-60 TFLOP/s peak fp32, realistically
// 10-25 TFLOP/s here), versus ~990 TFLOP/s of bf16 tensor cores for the matmuls. For GPT-2 124M at
// T=1024 attention is ~13% of the model FLOPs but will likely dominate the step time.
// Next steps for speed, in order:
//   1. tensor cores: mma.sync.m16n8k16 bf16 (FlashAttention-2 layout: one warp per 16 query rows,
//      S = Q K^T and O += P V as MMAs, P kept in registers as the A operand, K/V via ldmatrix);
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
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kBlockRows = 64;  // query rows per block (forward, dQ) = keys per block (dK/dV)
constexpr int kTileRows = 32;   // rows per shared-memory tile (keys in forward/dQ, queries in dK/dV)
constexpr int kMaxHeadSize = 128;

struct AttnDims {
  int B, T, C, NH, hs;
  float scale;
};

// qkv (B,T,3C) with C divisible by n_head, head size <= 128.
AttnDims check_qkv(const char* op, const Tensor& qkv, int n_head) {
  KILN_CHECK(qkv.shape.ndim == 3 && qkv.dim(2) % 3 == 0, op_msg(op, "qkv must be (B, T, 3C), got " + qkv.shape.str()));
  const int64_t B = qkv.dim(0), T = qkv.dim(1), C = qkv.dim(2) / 3;
  KILN_CHECK(n_head > 0 && C % n_head == 0,
             op_msg(op, "C=" + std::to_string(C) + " is not divisible by n_head=" + std::to_string(n_head)));
  KILN_CHECK(B <= 65535 && T <= (1 << 30) && 3 * C <= INT32_MAX,
             op_msg(op, "qkv " + qkv.shape.str() + " exceeds the kernel's index ranges"));
  const int64_t hs = C / n_head;
  KILN_CHECK(hs <= kMaxHeadSize,
             op_msg(op, "head size " + std::to_string(hs) + " exceeds the CUDA kernel's maximum of " +
                            std::to_string(kMaxHeadSize)));
  AttnDims d{int(B), int(T), int(C), n_head, int(hs), 0.f};
  d.scale = 1.0f / std::sqrt(float(hs));  // as the CPU reference: Real(1) / sqrt(Real(hs))
  return d;
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

void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, Stream s) {
  const char* op = "attention_forward";
  check_present(op, {{"out", &out}, {"lse", &lse}, {"qkv", &qkv}});
  const AttnDims a = check_qkv(op, qkv, n_head);
  check_shape(op, "out", out, {a.B, a.T, a.C});
  check_shape(op, "lse", lse, {a.B, a.NH, a.T});
  check_compute_dtype(op, "qkv", qkv.dtype);
  check_same_dtype(op, qkv.dtype, {{"out", &out}});
  check_stat(op, "lse", lse);
  if (a.B == 0 || a.T == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  const dim3 grid(static_cast<unsigned>(ceil_div(a.T, kBlockRows)), unsigned(a.NH), unsigned(a.B));
  dispatch_float(op, "qkv", qkv.dtype, [&](auto tag) {
    using T = decltype(tag);
    dispatch_head(a.hs, [&](auto dc) {
      constexpr int D = decltype(dc)::value;
      attention_forward_kernel<T, D, kBlockRows, kTileRows><<<grid, kBlockRows * AttnShape<D>::G, 0, stream>>>(
          ptr<T>(out), ptr<float>(lse), ptr<T>(qkv), a.T, a.C, a.NH, a.hs, a.scale);
    });
  });
  check_launch(op, stream);
}

void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, Stream s) {
  const char* op = "attention_backward";
  check_present(op, {{"dqkv", &dqkv}, {"dout", &dout}, {"qkv", &qkv}, {"out", &out}, {"lse", &lse}});
  const AttnDims a = check_qkv(op, qkv, n_head);
  check_shape(op, "dqkv", dqkv, qkv.shape);
  check_shape(op, "dout", dout, {a.B, a.T, a.C});
  check_shape(op, "out", out, {a.B, a.T, a.C});
  check_shape(op, "lse", lse, {a.B, a.NH, a.T});
  check_compute_dtype(op, "qkv", qkv.dtype);
  check_same_dtype(op, qkv.dtype, {{"dqkv", &dqkv}, {"dout", &dout}, {"out", &out}});
  check_stat(op, "lse", lse);
  if (a.B == 0 || a.T == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  const int64_t rows = int64_t(a.B) * a.NH * a.T;
  float* Drow = static_cast<float*>(scratch(sizeof(float) * size_t(rows), stream));
  const dim3 grid(static_cast<unsigned>(ceil_div(a.T, kBlockRows)), unsigned(a.NH), unsigned(a.B));
  dispatch_float(op, "qkv", qkv.dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kDThreads = 256;  // 8 rows per block
    attention_backward_d_kernel<T><<<static_cast<unsigned>(ceil_div(rows, kDThreads / 32)), kDThreads, 0, stream>>>(
        Drow, ptr<T>(dout), ptr<T>(out), a.B, a.T, a.C, a.NH, a.hs);
    check_launch(op, stream);
    dispatch_head(a.hs, [&](auto dc) {
      constexpr int D = decltype(dc)::value;
      constexpr int threads = kBlockRows * AttnShape<D>::G;
      attention_backward_dkdv_kernel<T, D, kBlockRows, kTileRows><<<grid, threads, 0, stream>>>(
          ptr<T>(dqkv), ptr<T>(dout), ptr<T>(qkv), ptr<float>(lse), Drow, a.T, a.C, a.NH, a.hs, a.scale);
      check_launch(op, stream);
      attention_backward_dq_kernel<T, D, kBlockRows, kTileRows><<<grid, threads, 0, stream>>>(
          ptr<T>(dqkv), ptr<T>(dout), ptr<T>(qkv), ptr<float>(lse), Drow, a.T, a.C, a.NH, a.hs, a.scale);
      check_launch(op, stream);
    });
  });
}

}  // namespace kernels::cuda
