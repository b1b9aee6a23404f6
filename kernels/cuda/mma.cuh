// kernels/cuda/mma.cuh
// Tensor-core fragments for warp-level matrix multiply: mma.sync.aligned.m16n8k16.row.col with
// bf16 or fp16 inputs and fp32 accumulators, loaded from shared memory with ldmatrix. The API the
// tensor-core kernels use (attention, issue 14); the primitives underneath are PTX on the GPU and
// the simulator's element-by-element versions on the CPU (compat.cuh), so a fragment indexing bug
// shows up in a simulator test. Checked by kernels/cuda/mma_check.cu against a plain matrix product.
// Not here: any kernel.
//
// Who holds what (PTX ISA, "Matrix Fragments for mma.m16n8k16"), for lane l of the warp,
// g = l / 4 and t = l % 4; each 32-bit register holds two 16-bit elements, the first in its low half:
//   A 16x16 (row-major, m x k)  reg j (0..3) = A[g + 8*(j%2)][2t + 8*(j/2) + {0,1}]
//   B 16x8  (k x n)             reg j (0..1) = B[2t + 8*j + {0,1}][g]
//   C, D 16x8 fp32 (m x n)      v[i] (0..3)  = C[g + 8*(i/2)][2t + i%2]
// The *_row / *_col functions below state the same mapping as code (tests and epilogues use them).
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/common.cuh"

namespace kernels::cuda::mma {

template <class T>  // T: __nv_bfloat16 or __half
struct FragA {
  uint32_t reg[4];
};
template <class T>
struct FragB {
  uint32_t reg[2];
};
struct FragC {
  float v[4];
};

// Coordinates of element e of a lane's fragment (A: e in 0..7, B: 0..3, C: 0..3).
__host__ __device__ constexpr int a_row(int lane, int e) { return lane / 4 + 8 * ((e / 2) % 2); }
__host__ __device__ constexpr int a_col(int lane, int e) { return 2 * (lane % 4) + 8 * (e / 4) + e % 2; }
__host__ __device__ constexpr int b_row(int lane, int e) { return 2 * (lane % 4) + 8 * (e / 2) + e % 2; }
__host__ __device__ constexpr int b_col(int lane, int /*e*/) { return lane / 4; }
__host__ __device__ constexpr int c_row(int lane, int i) { return lane / 4 + 8 * (i / 2); }
__host__ __device__ constexpr int c_col(int lane, int i) { return 2 * (lane % 4) + i % 2; }

// Two values rounded to T (RNE) in one register, the first in the low half.
template <class T>
__device__ __forceinline__ uint32_t pack(float lo, float hi) {
  static_assert(std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>, "bf16 or fp16");
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return uint32_t(__bfloat16_as_ushort(__float2bfloat16_rn(lo))) |
           uint32_t(__bfloat16_as_ushort(__float2bfloat16_rn(hi))) << 16;
  else
    return uint32_t(__half_as_ushort(__float2half_rn(lo))) | uint32_t(__half_as_ushort(__float2half_rn(hi))) << 16;
}

// A from a 16x16 row-major tile in shared memory (row stride ld elements, rows 16-byte aligned).
template <class T>
__device__ __forceinline__ void load_a(FragA<T>& a, const T* tile, int ld) {
  const int lane = threadIdx.x % 32;  // lanes 0-15: rows of columns 0-7; 16-31: columns 8-15
  ldmatrix<4, false>(a.reg, tile + (lane % 16) * ld + (lane / 16) * 8);
}

// B from shared memory holding B^T: 8 rows (n) of 16 contiguous k values (e.g. K for Q K^T).
template <class T>
__device__ __forceinline__ void load_b_nk(FragB<T>& b, const T* tile, int ld) {
  const int lane = threadIdx.x % 32;  // lanes 0-7: k 0-7 of rows n; 8-15: k 8-15 (16-31 unused)
  ldmatrix<2, false>(b.reg, tile + (lane % 8) * ld + ((lane / 8) % 2) * 8);
}

// B from shared memory holding B itself: 16 rows (k) of 8 contiguous n values (e.g. V for P V).
template <class T>
__device__ __forceinline__ void load_b_kn(FragB<T>& b, const T* tile, int ld) {
  const int lane = threadIdx.x % 32;  // lanes 0-15: rows k 0-15 (16-31 unused); transposed on load
  ldmatrix<2, true>(b.reg, tile + (lane % 16) * ld);
}

// d = a b + c (d may be c).
template <class T>
__device__ __forceinline__ void mma_sync(FragC& d, const FragA<T>& a, const FragB<T>& b, const FragC& c) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    mma_m16n8k16_bf16(d.v, a.reg, b.reg, c.v);
  else
    mma_m16n8k16_f16(d.v, a.reg, b.reg, c.v);
}

// The A operand of a second product from the accumulators of a first one (FlashAttention's P):
// lo holds columns 0-7 of the 16x16 tile, hi columns 8-15; values are rounded to T.
template <class T>
__device__ __forceinline__ FragA<T> a_from_accumulators(const FragC& lo, const FragC& hi) {
  return FragA<T>{{pack<T>(lo.v[0], lo.v[1]), pack<T>(lo.v[2], lo.v[3]), pack<T>(hi.v[0], hi.v[1]),
                   pack<T>(hi.v[2], hi.v[3])}};
}

// Writes the 16x8 accumulator tile to row-major fp32 memory (row stride ld).
__device__ __forceinline__ void store_c(float* out, int ld, const FragC& c) {
  const int lane = threadIdx.x % 32;
  for (int i = 0; i < 4; ++i) out[c_row(lane, i) * ld + c_col(lane, i)] = c.v[i];
}

}  // namespace kernels::cuda::mma
