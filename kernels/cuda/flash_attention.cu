// kernels/cuda/flash_attention.cu
// Causal flash attention on tensor cores (flash_attention.h): argument checks, tile sizes and
// launches of the kernels in flash_attention_kernels.cuh. attention.cu sends bf16/fp16 calls with
// head size 64 or 128 here; tests/kernels_cuda/test_cuda_flash_attention.cpp checks it against
// the CPU reference (also with n_kv_head < n_head) on the simulator and on a GPU.
//
// Design (FlashAttention-2's split on mma.sync m16n8k16, one warp per 16 rows):
//   forward   grid (T/64 query tiles, NH, B), 4 warps; Q in registers as A fragments, key tiles of
//             64 keys (K and V) through shared memory; S = Q K^T and O += P V as MMAs with P kept
//             in registers (accumulators -> A operand), online softmax in fp32, lse saved.
//   backward  (1) dQ: grid like the forward; also writes D = rowsum(dout * out) (per-stream
//                 scratch) for step 2; Q and dout in registers, K and V tiles through shared memory.
//             (2) dK, dV: grid (T/64 key tiles, NKV, B), 4 warps of 16 keys; K and V stay in shared
//                 memory, tiles of BQ queries (q, dout, lse, D) of every query head of the group
//                 stream through from the diagonal on.
//   No atomics: every output element is written by one thread, so results are deterministic.
// Shared memory stays within the 48 KiB a launch may use without opting in:
//   D = 64:  forward/dQ 18 KiB, dK/dV (BQ = 64) 36.5 KiB;
//   D = 128: forward/dQ 34 KiB, dK/dV (BQ = 16) 42.6 KiB.
// Registers per thread (ptxas -v, sm_90, no spills): forward 127 (D = 64) / 167 (D = 128), dQ 135 /
// 239, dK/dV 168 / 206, so at D = 128 only ~2 blocks (8 warps) fit on an SM.
// Not measured on a GPU yet (no GPU was at hand): speed, and whether that register pressure and
// the missing cp.async double buffering hurt are the first things to look at; Hopper's wgmma/TMA
// (FlashAttention-3) is the step after.
#include "kernels/cuda/flash_attention.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/flash_attention_kernels.cuh"

namespace kernels::cuda {

namespace {

template <int D>
struct FlashTiles {
  static constexpr int kBR = 64;                 // query rows per forward / dQ block
  static constexpr int kBC = 64;                 // keys per tile in forward / dQ
  static constexpr int kBK = 64;                 // keys per dK/dV block
  static constexpr int kBQ = D == 64 ? 64 : 16;  // queries per dK/dV tile (48 KiB of shared memory)
  static constexpr int kLD = flash_ld<D>();
  static constexpr size_t kForwardShared = size_t(2) * kBC * kLD * 2;
  static constexpr size_t kDkdvShared = size_t(2 * kBK + 2 * kBQ) * kLD * 2 + 2 * kBQ * sizeof(float);
  static_assert(kForwardShared <= 48 * 1024 && kDkdvShared <= 48 * 1024, "shared memory beyond 48 KiB");
};

struct FlashDims {
  int B, T, NH, NKV, hs;
};

// qkv (B,T,(NH+2NKV)*hs) with a supported dtype and head size.
FlashDims check_gqa_qkv(const char* op, const Tensor& qkv, int n_head, int n_kv_head) {
  KILN_CHECK(n_head > 0 && n_kv_head > 0 && n_head % n_kv_head == 0,
             op_msg(op, "n_head=" + std::to_string(n_head) + " must be a positive multiple of n_kv_head=" +
                            std::to_string(n_kv_head)));
  const int64_t heads = int64_t(n_head) + 2 * int64_t(n_kv_head);
  KILN_CHECK(qkv.shape.ndim == 3 && qkv.dim(2) % heads == 0,
             op_msg(op, "qkv must be (B, T, (n_head + 2*n_kv_head) * head_size), got " + qkv.shape.str()));
  const int64_t B = qkv.dim(0), T = qkv.dim(1), hs = qkv.dim(2) / heads;
  KILN_CHECK(B <= 65535 && T <= (1 << 30) && qkv.dim(2) <= INT32_MAX,
             op_msg(op, "qkv " + qkv.shape.str() + " exceeds the kernel's index ranges"));
  KILN_CHECK(flash_attention_applies(qkv.dtype, hs, {qkv}),
             op_msg(op, "the tensor-core kernels take bf16/fp16 with head size 64 or 128 and 16-byte aligned data, "
                        "got " + std::string(dtype_name(qkv.dtype)) + " with head size " + std::to_string(hs)));
  return FlashDims{int(B), int(T), n_head, n_kv_head, int(hs)};
}

FlashShape flash_shape(const FlashDims& d) {
  return FlashShape{d.T,
                    d.NH,
                    d.NKV,
                    int64_t(d.NH + 2 * d.NKV) * d.hs,
                    int64_t(d.NH + 2 * d.NKV) * d.hs,
                    int64_t(d.NH) * d.hs,
                    1.0f / std::sqrt(float(d.hs))};  // as the CPU reference: 1 / sqrt(hs)
}

// fn(__nv_bfloat16{}) or fn(__half{}), then fn's head size D = 64 or 128.
template <class Fn>
void dispatch_flash(DType dt, int hs, Fn&& fn) {
  auto by_head = [&](auto tag) {
    if (hs == 64)
      fn(tag, std::integral_constant<int, 64>{});
    else
      fn(tag, std::integral_constant<int, 128>{});
  };
  if (dt == DType::BF16)
    by_head(__nv_bfloat16{});
  else
    by_head(__half{});
}

}  // namespace

bool flash_attention_applies(DType dtype, int64_t head_size, std::initializer_list<Tensor> tensors) {
  if (dtype != DType::BF16 && dtype != DType::F16) return false;
  if (head_size != 64 && head_size != 128) return false;
  for (const Tensor& t : tensors)
    if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0) return false;
  return true;
}

void attention_gqa_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s) {
  const char* op = "attention_gqa_forward";
  check_present(op, {{"out", &out}, {"lse", &lse}, {"qkv", &qkv}}, kDevice);
  const FlashDims d = check_gqa_qkv(op, qkv, n_head, n_kv_head);
  check_shape(op, "out", out, {d.B, d.T, int64_t(d.NH) * d.hs});
  check_shape(op, "lse", lse, {d.B, d.NH, d.T});
  check_same_dtype(op, qkv.dtype, {{"out", &out}});
  check_stat(op, "lse", lse);
  KILN_CHECK(flash_attention_applies(qkv.dtype, d.hs, {out}), op_msg(op, "out is not 16-byte aligned"));
  if (d.B == 0 || d.T == 0) return;
  const FlashShape sh = flash_shape(d);
  const cudaStream_t stream = cuda_stream(s);
  dispatch_flash(qkv.dtype, d.hs, [&](auto tag, auto dc) {
    using T = decltype(tag);
    constexpr int D = decltype(dc)::value;
    using Tiles = FlashTiles<D>;
    const T* q = ptr<T>(qkv);
    const T* k = q + int64_t(d.NH) * D;
    const T* v = k + int64_t(d.NKV) * D;
    const dim3 grid(unsigned(ceil_div(d.T, Tiles::kBR)), unsigned(d.NH), unsigned(d.B));
    launch<flash_attention_forward_kernel<T, D, Tiles::kBR, Tiles::kBC>>(
        op, grid, Tiles::kBR / 16 * 32, Tiles::kForwardShared, stream, ptr<T>(out), ptr<float>(lse), q, k, v, sh);
  });
}

void attention_gqa_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, int n_kv_head,
                            Stream s) {
  const char* op = "attention_gqa_backward";
  check_present(op, {{"dqkv", &dqkv}, {"dout", &dout}, {"qkv", &qkv}, {"out", &out}, {"lse", &lse}}, kDevice);
  const FlashDims d = check_gqa_qkv(op, qkv, n_head, n_kv_head);
  check_shape(op, "dqkv", dqkv, qkv.shape);
  check_shape(op, "dout", dout, {d.B, d.T, int64_t(d.NH) * d.hs});
  check_shape(op, "out", out, {d.B, d.T, int64_t(d.NH) * d.hs});
  check_shape(op, "lse", lse, {d.B, d.NH, d.T});
  check_same_dtype(op, qkv.dtype, {{"dqkv", &dqkv}, {"dout", &dout}, {"out", &out}});
  check_stat(op, "lse", lse);
  KILN_CHECK(flash_attention_applies(qkv.dtype, d.hs, {dqkv, dout, out}),
             op_msg(op, "dqkv, dout and out must be 16-byte aligned"));
  if (d.B == 0 || d.T == 0) return;
  const FlashShape sh = flash_shape(d);
  const cudaStream_t stream = cuda_stream(s);
  float* Drow = static_cast<float*>(scratch(sizeof(float) * size_t(d.B) * d.NH * d.T, stream));
  dispatch_flash(qkv.dtype, d.hs, [&](auto tag, auto dc) {
    using T = decltype(tag);
    constexpr int D = decltype(dc)::value;
    using Tiles = FlashTiles<D>;
    const T* q = ptr<T>(qkv);
    const T* k = q + int64_t(d.NH) * D;
    const T* v = k + int64_t(d.NKV) * D;
    T* dq = ptr<T>(dqkv);
    T* dk = dq + int64_t(d.NH) * D;
    T* dv = dk + int64_t(d.NKV) * D;
    const dim3 grid_q(unsigned(ceil_div(d.T, Tiles::kBR)), unsigned(d.NH), unsigned(d.B));
    launch<flash_attention_backward_dq_kernel<T, D, Tiles::kBR, Tiles::kBC>>(
        op, grid_q, Tiles::kBR / 16 * 32, Tiles::kForwardShared, stream, dq, Drow, ptr<T>(dout), ptr<T>(out), q, k, v,
        ptr<float>(lse), sh);
    const dim3 grid_k(unsigned(ceil_div(d.T, Tiles::kBK)), unsigned(d.NKV), unsigned(d.B));
    launch<flash_attention_backward_dkdv_kernel<T, D, Tiles::kBK, Tiles::kBQ>>(
        op, grid_k, Tiles::kBK / 16 * 32, Tiles::kDkdvShared, stream, dk, dv, ptr<T>(dout), q, k, v, ptr<float>(lse),
        Drow, sh);
  });
}

}  // namespace kernels::cuda
