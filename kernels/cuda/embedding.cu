// kernels/cuda/embedding.cu
// Token + position embedding on the GPU, forward and backward, with the vocab-parallel shard
// convention of kernels/ops.h: wte holds the Vs rows of global ids [vocab_start, vocab_start+Vs);
// other ids contribute nothing; wpe/dwpe are optional. Called through kernels::cuda::kOps (via
// parallel/tp_vocab). Mirrors kernels/cpu/embedding.h. Not here: the tp all-reduce.
//
// forward:  one thread per output element, out = wte[token - start] + wpe[t] in fp32, one rounding.
// backward: deterministic, no atomics, and in the CPU's summation order (so fp32 gradients are
//           bit-identical to the CPU reference):
//   dwpe[t]   += dout[0,t] + dout[1,t] + ...   one thread per (t, c), b ascending;
//   dwte[r]   += sum of dout rows whose token is start + r, in ascending position order: positions
//             are sorted by local row with a stable radix sort (cub; out-of-shard ids get the key
//             Vs and sort last), then one block per run of equal keys walks its run.
//             Cost O(B*T*C) plus a sort of B*T keys.
// Negative token ids are a caller bug: they are caught on the device, print their position and
// trap (the error surfaces at the next synchronizing call, or at once with KILN_CUDA_SYNC_CHECK=1).
#include <cstdio>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/ops_cuda.h"
#include KILN_CUB_RADIX_SORT_HEADER  // cub, or the simulator's stand-in (compat.cuh)

namespace kernels::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void check_token(int32_t tok, int64_t pos, bool report) {
  if (tok < 0) {
    if (report) printf("kiln embedding: token %d at flat position %lld is negative\n", tok, (long long)pos);
    __trap();
  }
}

// wpe may be null (no positions on this rank).
template <class T>
__global__ void embedding_forward_kernel(T* out, const int32_t* tokens, const T* wte, const T* wpe, int64_t BT,
                                         int64_t T_len, int64_t C, int64_t start, int64_t Vs) {
  const int64_t n = BT * C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t bt = i / C, c = i % C;
    const int32_t tok = tokens[bt];
    check_token(tok, bt, c == 0);
    const int64_t row = int64_t(tok) - start;
    const float e = (row >= 0 && row < Vs) ? to_float(wte[row * C + c]) : 0.f;
    const float p = wpe != nullptr ? to_float(wpe[(bt % T_len) * C + c]) : 0.f;
    out[i] = from_float<T>(e + p);
  }
}

// keys[i] = local wte row of token i (Vs when it belongs to another shard), positions[i] = i.
__global__ void embedding_keys_kernel(uint32_t* keys, int32_t* positions, const int32_t* tokens, int64_t BT,
                                      int64_t start, int64_t Vs) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < BT; i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t tok = tokens[i];
    check_token(tok, i, true);
    const int64_t row = int64_t(tok) - start;
    keys[i] = uint32_t((row >= 0 && row < Vs) ? row : Vs);
    positions[i] = int32_t(i);
  }
}

// Block i handles the run of equal keys that starts at sorted index i (other blocks exit).
template <class D, class G>
__global__ void embedding_dwte_kernel(G* dwte, const D* dout, const uint32_t* sorted_key, const int32_t* sorted_pos,
                                      int64_t BT, int64_t C, int64_t Vs) {
  const int64_t i = blockIdx.x;
  const uint32_t key = sorted_key[i];
  if (int64_t(key) >= Vs || (i > 0 && sorted_key[i - 1] == key)) return;
  int64_t end = i + 1;
  while (end < BT && sorted_key[end] == key) ++end;
  G* row = dwte + int64_t(key) * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float acc = to_float(row[c]);
    for (int64_t k = i; k < end; ++k) acc += to_float(dout[int64_t(sorted_pos[k]) * C + c]);
    row[c] = from_float<G>(acc);
  }
}

template <class D, class G>
__global__ void embedding_dwpe_kernel(G* dwpe, const D* dout, int64_t B, int64_t T_len, int64_t C) {
  const int64_t n = T_len * C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float acc = to_float(dwpe[i]);  // i = t*C + c
    for (int64_t b = 0; b < B; ++b) acc += to_float(dout[b * n + i]);
    dwpe[i] = from_float<G>(acc);
  }
}

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

}  // namespace

void embedding_forward(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, int vocab_start, Stream s) {
  const char* op = "embedding_forward";
  const EmbeddingDims d = check_embedding_forward(kDevice, out, tokens, wte, wpe);
  const int64_t B = d.B, T = d.T, C = d.C, Vs = d.rows;
  check_compute_dtype(op, "wte", wte.dtype);
  check_same_dtype(op, wte.dtype, {{"wpe", &wpe}, {"out", &out}});
  const int64_t n = B * T * C;
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  dispatch_float(op, "wte", wte.dtype, [&](auto tag) {
    using T_ = decltype(tag);
    launch<embedding_forward_kernel<T_>>(op, grid_for(n, kThreads), kThreads, 0, stream, ptr<T_>(out),
                                         ptr<int32_t>(tokens), ptr<T_>(wte), ptr_or_null<T_>(wpe), B * T, T, C,
                                         vocab_start, Vs);
  });
}

void embedding_backward(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, int vocab_start, Stream s) {
  const char* op = "embedding_backward";
  const EmbeddingDims d = check_embedding_backward(kDevice, dwte, dwpe, dout, tokens);
  const int64_t B = d.B, T = d.T, C = d.C, Vs = d.rows;
  check_compute_dtype(op, "dout", dout.dtype);
  check_grad_dtype(op, "dwte", dwte, dout.dtype);
  check_grad_dtype(op, "dwpe", dwpe, dout.dtype);
  const int64_t BT = B * T;
  if (BT == 0 || C == 0) return;
  KILN_CHECK(BT <= INT32_MAX && Vs < INT32_MAX, op_msg(op, "more than 2^31 positions or vocabulary rows"));
  const cudaStream_t stream = cuda_stream(s);

  // Scratch: keys | sorted keys | positions | sorted positions | cub temp storage.
  int end_bit = 1;
  while ((int64_t(1) << end_bit) <= Vs) ++end_bit;  // keys are in [0, Vs]
  size_t temp_bytes = 0;
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, static_cast<const uint32_t*>(nullptr),
                                                  static_cast<uint32_t*>(nullptr), static_cast<const int32_t*>(nullptr),
                                                  static_cast<int32_t*>(nullptr), BT, 0, end_bit, stream));
  const size_t arr = align256(size_t(BT) * 4);
  char* base = static_cast<char*>(scratch(4 * arr + temp_bytes, stream));
  uint32_t* keys = reinterpret_cast<uint32_t*>(base);
  uint32_t* sorted_keys = reinterpret_cast<uint32_t*>(base + arr);
  int32_t* positions = reinterpret_cast<int32_t*>(base + 2 * arr);
  int32_t* sorted_pos = reinterpret_cast<int32_t*>(base + 3 * arr);
  void* temp = base + 4 * arr;

  launch<embedding_keys_kernel>(op, grid_for(BT, kThreads), kThreads, 0, stream, keys, positions,
                                ptr<int32_t>(tokens), BT, vocab_start, Vs);
  // Radix sort is stable: equal keys keep ascending positions, the CPU's summation order.
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys, sorted_keys, positions, sorted_pos, BT, 0,
                                                  end_bit, stream));
  check_launch(op, stream);

  dispatch_float(op, "dout", dout.dtype, [&](auto tag) {
    using D = decltype(tag);
    dispatch_grad<D>(dwte.dtype, [&](auto gtag) {
      using G = decltype(gtag);
      const int threads = C >= kThreads ? kThreads : int(ceil_div(C, 32) * 32);
      launch<embedding_dwte_kernel<D, G>>(op, static_cast<unsigned>(BT), threads, 0, stream, ptr<G>(dwte),
                                          ptr<D>(dout), sorted_keys, sorted_pos, BT, C, Vs);
    });
    if (dwpe.empty()) return;
    dispatch_grad<D>(dwpe.dtype, [&](auto gtag) {
      using G = decltype(gtag);
      launch<embedding_dwpe_kernel<D, G>>(op, grid_for(T * C, kThreads), kThreads, 0, stream, ptr<G>(dwpe),
                                          ptr<D>(dout), B, T, C);
    });
  });
}

}  // namespace kernels::cuda
