// kernels/cpu/simd/tile_gemm_impl.h
// Small matrix products for attention's tiles, C (M,N) = A (M,K) B (K,N) or C += A B, with B's rows
// contiguous and A read through two strides, so A may be a transposed view (P^T, dS^T) without a
// copy. Included once by each kernels/cpu/simd/isa_*.cpp (vec.h explains the arrangement).
//
// Why not BLAS: attention's products are many and small (e.g. 32 x 128 x 32 per tile), and an
// sgemm call packs both operands every time; at these sizes packing and call overhead took more
// time than the arithmetic (measured: ~30 GFLOP/s with OpenBLAS, against ~80 for the model's big
// products on the same core). Here a 6-row x 2-vector register tile runs over K directly from the
// operands, which at K = head size (32-128) and N <= T sit in L1/L2 (~80 GFLOP/s on a Zen 3 core at
// 32 x 128 x 32, ~75 with the 4-row tile it replaced). gemm_impl.h runs the same register tile on
// packed operands.
// Each C element is one fused multiply-add chain over k = 0..K-1 in order: deterministic, and the
// same whatever the tile position or thread.
#pragma once

#include <utility>

#include "kernels/cpu/simd/vec.h"

namespace kernels::cpu::simd::KILN_SIMD_NS {

// ---- the register tile (also gemm_impl.h's) -----------------------------------------------------
// R rows x two vectors of C, summed over k < K: per k, two vector loads of B, R broadcasts of A,
// 2R fused multiply-adds; the accumulators stay in registers through the store. R is at most 6 at
// AVX2 (12 accumulators, two B vectors and a broadcast fill the 16 registers); smaller R serve the
// last rows of M (the callers pick R = 6, 4 or 2 for the rows left, so no tile computes 4 rows it
// throws away). gemm_impl.h also uses R = 12, 8, 4 at AVX-512 (32 registers).
// A(r, k) = a[r a_row + k a_k]: rows of a row-major A (a_k = 1), a transposed view read in place
// (a_row = 1), or a packed micro-panel (gemm_impl.h); rows past a_rows repeat the last (computed,
// never stored). B(k, j) = b[k ldb + j]: attention passes B as stored, gemm_impl.h a packed panel
// (ldb = 2 kW). With kFullCols false, B is read with partial loads of `cols` (< 2 kW) columns, zeros
// beyond, so no load crosses the end of a row. Then C (rows x cols, row stride ldc) = the sums, or
// += them when accumulate. Each C element is one FMA chain over k = 0..K-1 in order.

// C row (cols < 2 kW columns) = v0|v1, or += with accumulate; then + b0|b1 with add_bias.
__attribute__((noinline)) static void tile_store_part(float* c, vf v0, vf v1, int64_t cols, bool accumulate,
                                                      bool add_bias, vf b0, vf b1) {
  const int64_t cols0 = cols < kW ? cols : kW, cols1 = cols - cols0;
  if (accumulate) v0 = load_part(c, cols0, 0.f) + v0, v1 = load_part(c + kW, cols1, 0.f) + v1;
  if (add_bias) v0 += b0, v1 += b1;
  if (cols0 > 0) store_part(c, v0, cols0);
  if (cols1 > 0) store_part(c + kW, v1, cols1);
}

// Always inlined: its callers' loops then keep the tile's invariants in registers (~2% on the model's
// products with the operands in cache).
template <int R, bool kFullCols>
__attribute__((always_inline)) static inline void tile_kernel(const float* a, int64_t a_row, int64_t a_k,
                                                              int64_t a_rows, const float* b, int64_t ldb,
                                                              int64_t cols, int64_t K, float* C, int64_t ldc,
                                                              int64_t rows, bool accumulate,
                                                              const float* bias = nullptr) {
  const char* ar[R];  // byte addresses, so one offset register steps every row
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) ar[r] = reinterpret_cast<const char*>(a + min_i64(r, a_rows - 1) * a_row);
  const int64_t step = a_k * int64_t(sizeof(float));
  const int64_t cols0 = cols < kW ? cols : kW, cols1 = cols - cols0;
  vf c0[R], c1[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) c0[r] = c1[r] = vf{};
  int64_t off = 0;
  for (int64_t k = 0; k < K; ++k, off += step, b += ldb) {
    vf b0, b1;
    if constexpr (kFullCols) {
      b0 = load(b);
      b1 = load(b + kW);
    } else {
      b0 = cols0 == kW ? load(b) : load_part(b, cols0, 0.f);
      b1 = load_part(b + kW, cols1, 0.f);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      float x;
      __builtin_memcpy(&x, ar[r] + off, sizeof x);
      c0[r] += splat(x) * b0;
      c1[r] += splat(x) * b1;
    }
  }
  // Unrolled with constant row indices and the rare partial row out of line, so the sums stay in
  // registers (a run-time index into c0/c1 made GCC keep both arrays on the stack and clear them
  // with rep stos, ~100 cycles per tile: a third of a 32-deep attention tile). bias (gemm_impl.h's
  // last K block; null otherwise): 2 kW values added to every row after its sum, (C + t) + bias.
  vf bias0 = vf{}, bias1 = vf{};
  if (bias) {
    bias0 = cols0 == kW ? load(bias) : load_part(bias, cols0, 0.f);
    bias1 = cols1 == kW ? load(bias + kW) : load_part(bias + kW, cols1, 0.f);
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    if (r >= rows) continue;
    float* c = C + r * ldc;
    vf v0 = c0[r], v1 = c1[r];
    if (cols == 2 * kW) {
      if (accumulate) v0 = load(c) + v0, v1 = load(c + kW) + v1;
      if (bias) v0 += bias0, v1 += bias1;
      store(c, v0);
      store(c + kW, v1);
    } else {
      tile_store_part(c, v0, v1, cols, accumulate, bias != nullptr, bias0, bias1);
    }
  }
}

constexpr int kTileRows = 6;       // attention: rows of C per register tile (the last ones: 4 or 2)
constexpr int kTileCols = 2 * kW;  // columns of C per register tile (two vectors)

template <bool kFullCols>
static inline void tile_rows(const float* a, int64_t a_row, int64_t a_k, const float* b, int64_t ldb, int64_t cols,
                             int64_t K, float* C, int64_t ldc, int64_t rows, bool accumulate) {
  if (rows > 4)
    tile_kernel<6, kFullCols>(a, a_row, a_k, rows, b, ldb, cols, K, C, ldc, rows, accumulate);
  else if (rows > 2)
    tile_kernel<4, kFullCols>(a, a_row, a_k, rows, b, ldb, cols, K, C, ldc, rows, accumulate);
  else
    tile_kernel<2, kFullCols>(a, a_row, a_k, rows, b, ldb, cols, K, C, ldc, rows, accumulate);
}

// C (M,N) = A B (accumulate: C += A B). A(i,k) = A[i a_row + k a_k]; B(k,j) = B[k ldb + j].
// Column panels outer, so a K x 2kW panel of B stays in L1 while all rows pass over it.
static void tile_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_row, int64_t a_k, const float* B,
                      int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  for (int64_t j = 0; j < N; j += kTileCols) {
    const int64_t cols = min_i64(kTileCols, N - j);
    for (int64_t i = 0, rows; i < M; i += rows) {
      // 6 rows a tile; the last 8 as two tiles of 4 (a 2-row tile runs at half speed: too few
      // accumulators to cover the FMA latency), so M = 32 (attention's query tile) is 6 6 6 6 4 4.
      rows = M - i == 8 ? 4 : min_i64(kTileRows, M - i);
      if (cols == kTileCols)
        tile_rows<true>(A + i * a_row, a_row, a_k, B + j, ldb, cols, K, C + i * ldc + j, ldc, rows, accumulate);
      else
        tile_rows<false>(A + i * a_row, a_row, a_k, B + j, ldb, cols, K, C + i * ldc + j, ldc, rows, accumulate);
    }
  }
}

// ---- transposes (attention packs each head's keys and values as (hs, T) panels) ----------------

// Transposing a kW x kW block in log2(kW) stages: at stage h, rows i and i + h (bit h of i clear)
// swap their off-diagonal h-wide blocks, as two-vector shuffles with constant masks (unpack,
// shuffle and lane-permute instructions once compiled). __builtin_shufflevector (GCC 12+, clang)
// takes the lane indices as constants, hence the index pack.
template <int H>
struct TransposeMasks {
  static constexpr int kLo(int c) { return (c & H) == 0 ? c : kW + c - H; }
  static constexpr int kHi(int c) { return (c & H) == 0 ? c + H : kW + c; }
};

template <int H, int... C>
static inline void transpose_stage(vf* r, std::integer_sequence<int, C...>) {
  for (int i = 0; i < kW; ++i)
    if ((i & H) == 0) {
      const vf a = r[i], b = r[i + H];
      r[i] = __builtin_shufflevector(a, b, TransposeMasks<H>::kLo(C)...);
      r[i + H] = __builtin_shufflevector(a, b, TransposeMasks<H>::kHi(C)...);
    }
}

template <int H>
static inline void transpose_stage(vf* r) {
  transpose_stage<H>(r, std::make_integer_sequence<int, kW>{});
}

// r[i][j] <-> r[j][i] for a kW x kW block held in kW vectors.
static inline void transpose_vectors(vf* r) {
  if constexpr (kW >= 16) transpose_stage<8>(r);
  if constexpr (kW >= 8) transpose_stage<4>(r);
  transpose_stage<2>(r);
  transpose_stage<1>(r);
}

static inline void transpose_block(float* dst, int64_t ldd, const float* src, int64_t lds) {
  vf r[kW];
  for (int i = 0; i < kW; ++i) r[i] = load(src + i * lds);
  transpose_vectors(r);
  for (int i = 0; i < kW; ++i) store(dst + i * ldd, r[i]);
}

// dst (cols, rows; row stride ldd) = src (rows, cols; row stride lds) transposed.
static void transpose(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows, int64_t cols) {
  const int64_t rows_v = rows / kW * kW, cols_v = cols / kW * kW;
  for (int64_t i = 0; i < rows_v; i += kW)
    for (int64_t j = 0; j < cols_v; j += kW) transpose_block(dst + j * ldd + i, ldd, src + i * lds + j, lds);
  for (int64_t j = 0; j < cols; ++j)  // the edges that do not fill a block
    for (int64_t i = (j < cols_v ? rows_v : 0); i < rows; ++i) dst[j * ldd + i] = src[i * lds + j];
}

}  // namespace kernels::cpu::simd::KILN_SIMD_NS
