// kernels/cuda/colsum.cuh
// Deterministic column sums of an (N, C) expression, added into one or two parameter-gradient
// vectors: out0[c] += sum_n f(n,c).x, out1[c] += sum_n f(n,c).y. Used by matmul.cu (dbias) and
// layernorm.cu (dweight, dbias). Private to kernels/cuda. Not here: the expressions themselves.
//
// Two passes and no atomics, so the result does not change from run to run:
//   pass 1: block (32 x 8 threads) = 32 adjacent columns x one chunk of kColsumRows rows. Thread
//           (x, y) sums rows y, y+8, ... of its column in order; the 8 row-partials are then summed
//           in y order and stored as partial[chunk][c] (float2, in scratch).
//   pass 2: one thread per column sums the chunks in chunk order and adds the total (fp32 math,
//           one rounding) into out0/out1, which may be fp32 or the compute dtype.
// The grouping depends only on (N, C), never on the GPU model.
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/context.cuh"

namespace kernels::cuda {

constexpr int kColsumRows = 256;  // rows per chunk (pass 1)
constexpr int kColsumRowThreads = 8;

template <class F>
__global__ void __launch_bounds__(32 * kColsumRowThreads)
    colsum_partial_kernel(float2* partial, int64_t N, int64_t C, F f) {
  __shared__ float2 acc_s[kColsumRowThreads][32];
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t row0 = int64_t(blockIdx.y) * kColsumRows;
  const int64_t row1 = row0 + kColsumRows < N ? row0 + kColsumRows : N;
  float2 acc = make_float2(0.f, 0.f);
  if (c < C) {
    for (int64_t n = row0 + threadIdx.y; n < row1; n += kColsumRowThreads) {
      const float2 v = f(n, c);
      acc.x += v.x;
      acc.y += v.y;
    }
  }
  acc_s[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float2 sum = acc_s[0][threadIdx.x];
    for (int y = 1; y < kColsumRowThreads; ++y) {
      sum.x += acc_s[y][threadIdx.x].x;
      sum.y += acc_s[y][threadIdx.x].y;
    }
    partial[int64_t(blockIdx.y) * C + c] = sum;
  }
}

// out1 may be null (only one sum wanted).
template <class Out0, class Out1>
__global__ void colsum_finish_kernel(Out0* out0, Out1* out1, const float2* partial, int64_t C, int chunks) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float s0 = 0.f, s1 = 0.f;
  for (int k = 0; k < chunks; ++k) {
    const float2 p = partial[int64_t(k) * C + c];
    s0 += p.x;
    s1 += p.y;
  }
  out0[c] = from_float<Out0>(to_float(out0[c]) + s0);
  if (out1 != nullptr) out1[c] = from_float<Out1>(to_float(out1[c]) + s1);
}

// Launches both passes on `stream`. f is a __device__-callable functor: float2 operator()(n, c).
template <class Out0, class Out1, class F>
void colsum_accumulate(const char* op, Out0* out0, Out1* out1, int64_t N, int64_t C, F f, cudaStream_t stream) {
  if (N == 0 || C == 0) return;
  const int64_t chunks = ceil_div(N, kColsumRows);
  KILN_CHECK(chunks <= 65535, op_msg(op, "too many rows for the column reduction: " + std::to_string(N)));
  float2* partial = static_cast<float2*>(scratch(sizeof(float2) * size_t(chunks * C), stream));
  const dim3 grid(static_cast<unsigned>(ceil_div(C, 32)), static_cast<unsigned>(chunks));
  launch<colsum_partial_kernel<F>>(op, grid, dim3(32, kColsumRowThreads), 0, stream, partial, N, C, f);
  constexpr int kThreads = 256;
  launch<colsum_finish_kernel<Out0, Out1>>(op, static_cast<unsigned>(ceil_div(C, kThreads)), kThreads, 0, stream,
                                           out0, out1, partial, C, int(chunks));
}

}  // namespace kernels::cuda
