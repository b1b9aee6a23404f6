// kernels/cpu/simd/tile_gemm_impl.h
// Small matrix products for attention's tiles, C (M,N) = A (M,K) B (K,N) or C += A B, with B's rows
// contiguous and A read through two strides, so A may be a transposed view (P^T, dS^T) without a
// copy. Included once by each kernels/cpu/simd/isa_*.cpp (vec.h explains the arrangement).
//
// Why not BLAS: attention's products are many and small (e.g. 32 x 128 x 32 per tile), and an
// sgemm call packs both operands every time; at these sizes packing and call overhead took more
// time than the arithmetic (measured: ~30 GFLOP/s with OpenBLAS, against ~80 for the model's big
// products on the same core). Here a 4-row x 2-vector register tile runs over K directly from the
// operands, which at K = head size (32-128) and N <= T sit in L1/L2.
// Each C element is one fused multiply-add chain over k = 0..K-1 in order: deterministic, and the
// same whatever the tile position or thread.
#pragma once

#include <utility>

#include "kernels/cpu/simd/vec.h"

namespace kernels::cpu::simd::KILN_SIMD_NS {

// ---- the register tile --------------------------------------------------------------------------
// MR rows x two vectors of C, summed over k < K: per k, two vector loads of B, MR broadcasts of A,
// 2 MR fused multiply-adds. MR is 4 for attention's tiles; gemm_impl.h uses its own (6 or 12).
// A(r, k) = a[r a_row + k a_k]: row-major A (a_k = 1), or a transposed view (a_row = 1) read in
// place. B(k, j) = B[k ldb + j]: attention passes B as stored, gemm_impl.h a packed panel (ldb = 2kW).

template <int MR>
struct TileAcc {
  vf c[MR][2];
};

// Rows past `rows` repeat the last row (computed, never stored); with kFullCols false, B is read
// with partial loads of `cols` (< 2 kW) columns, zeros beyond, so no load crosses the end of a row.
template <int MR, bool kFullCols>
static inline TileAcc<MR> tile_sum(const float* a, int64_t a_row, int64_t a_k, int64_t rows, int64_t K, const float* B,
                                   int64_t ldb, int64_t cols) {
  const float* ar[MR];
  for (int r = 0; r < MR; ++r) ar[r] = a + (r < rows ? r : rows - 1) * a_row;
  const int64_t cols0 = cols < kW ? cols : kW, cols1 = cols - cols0;
  TileAcc<MR> t;
  for (int r = 0; r < MR; ++r) t.c[r][0] = t.c[r][1] = vf{};
  int64_t off = 0;
  for (int64_t k = 0; k < K; ++k, B += ldb, off += a_k) {
    vf b0, b1;
    if constexpr (kFullCols) {
      b0 = load(B);
      b1 = load(B + kW);
    } else {
      b0 = cols0 == kW ? load(B) : load_part(B, cols0, 0.f);
      b1 = load_part(B + kW, cols1, 0.f);
    }
    for (int r = 0; r < MR; ++r) {
      const vf x = splat(ar[r][off]);
      t.c[r][0] += x * b0;
      t.c[r][1] += x * b1;
    }
  }
  return t;
}

// C (rows x cols, row stride ldc) = t, or += t when accumulate.
template <int MR>
static inline void tile_store(const TileAcc<MR>& t, int64_t rows, int64_t cols, float* C, int64_t ldc,
                              bool accumulate) {
  const int64_t cols0 = cols < kW ? cols : kW, cols1 = cols - cols0;
  for (int r = 0; r < MR && r < rows; ++r) {
    float* c = C + r * ldc;
    if (cols == 2 * kW) {
      store(c, accumulate ? load(c) + t.c[r][0] : t.c[r][0]);
      store(c + kW, accumulate ? load(c + kW) + t.c[r][1] : t.c[r][1]);
    } else {
      if (cols0 > 0) store_part(c, accumulate ? load_part(c, cols0, 0.f) + t.c[r][0] : t.c[r][0], cols0);
      if (cols1 > 0) store_part(c + kW, accumulate ? load_part(c + kW, cols1, 0.f) + t.c[r][1] : t.c[r][1], cols1);
    }
  }
}

constexpr int kTileRows = 4;       // attention: rows of C per register tile
constexpr int kTileCols = 2 * kW;  // columns of C per register tile (two vectors)

// C (M,N) = A B (accumulate: C += A B). A(i,k) = A[i a_row + k a_k]; B(k,j) = B[k ldb + j].
// Column panels outer, so a K x 2kW panel of B stays in L1 while all rows pass over it.
static void tile_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_row, int64_t a_k, const float* B,
                      int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  for (int64_t j = 0; j < N; j += kTileCols) {
    const int64_t cols = min_i64(kTileCols, N - j);
    for (int64_t i = 0; i < M; i += kTileRows) {
      const int64_t rows = min_i64(kTileRows, M - i);
      const float* a = A + i * a_row;
      const TileAcc<kTileRows> t = cols == kTileCols
                                       ? tile_sum<kTileRows, true>(a, a_row, a_k, rows, K, B + j, ldb, cols)
                                       : tile_sum<kTileRows, false>(a, a_row, a_k, rows, K, B + j, ldb, cols);
      tile_store(t, rows, cols, C + i * ldc + j, ldc, accumulate);
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
