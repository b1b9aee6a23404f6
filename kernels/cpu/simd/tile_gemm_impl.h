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

#include "kernels/cpu/simd/vec.h"

namespace kernels::cpu::simd::KILN_SIMD_NS {

constexpr int kTileRows = 4;       // rows of C per register tile
constexpr int kTileCols = 2 * kW;  // columns of C per register tile (two vectors)

// One register tile: C rows a[0..3] (pointers to A's rows) x columns [0, 2 kW) of B and C, summed
// over k < K. The hot loop: per k two vector loads of B, four broadcasts of A, eight FMAs.
struct TileAcc {
  vf c[kTileRows][2];
};

static inline TileAcc tile_sum_full(const float* const* a, int64_t a_k, int64_t K, const float* B, int64_t ldb) {
  vf c00 = vf{}, c01 = vf{}, c10 = vf{}, c11 = vf{}, c20 = vf{}, c21 = vf{}, c30 = vf{}, c31 = vf{};
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
  for (int64_t k = 0; k < K; ++k, B += ldb, a0 += a_k, a1 += a_k, a2 += a_k, a3 += a_k) {
    const vf b0 = load(B), b1 = load(B + kW);
    const vf x0 = splat(*a0), x1 = splat(*a1), x2 = splat(*a2), x3 = splat(*a3);
    c00 += x0 * b0;
    c01 += x0 * b1;
    c10 += x1 * b0;
    c11 += x1 * b1;
    c20 += x2 * b0;
    c21 += x2 * b1;
    c30 += x3 * b0;
    c31 += x3 * b1;
  }
  return TileAcc{{{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}}};
}

// The same for a tile narrower than 2 kW columns (cols0 + cols1 of them): B is read with partial
// loads (zeros past the edge), so no load crosses the end of B's row.
static inline TileAcc tile_sum_edge(const float* const* a, int64_t a_k, int64_t K, const float* B, int64_t ldb,
                                    int64_t cols0, int64_t cols1) {
  TileAcc t{};
  for (int64_t k = 0; k < K; ++k) {
    const float* b = B + k * ldb;
    const vf b0 = cols0 == kW ? load(b) : load_part(b, cols0, 0.f);
    const vf b1 = load_part(b + kW, cols1, 0.f);
    for (int r = 0; r < kTileRows; ++r) {
      const vf x = splat(a[r][k * a_k]);
      t.c[r][0] += x * b0;
      t.c[r][1] += x * b1;
    }
  }
  return t;
}

// Rows i0 .. i0+rows-1 (rows <= 4: missing rows repeat the last one and are not stored) x columns
// j0 .. j0+cols-1 (cols <= 2 kW) of C = A B (or C += A B).
static inline void tile_4x2(int64_t rows, int64_t cols, int64_t K, const float* A, int64_t a_row, int64_t a_k,
                            const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  const float* a[kTileRows];
  for (int r = 0; r < kTileRows; ++r) a[r] = A + (r < rows ? r : rows - 1) * a_row;
  const int64_t cols0 = cols < kW ? cols : kW, cols1 = cols - cols0;
  const TileAcc t =
      cols == kTileCols ? tile_sum_full(a, a_k, K, B, ldb) : tile_sum_edge(a, a_k, K, B, ldb, cols0, cols1);
  for (int r = 0; r < rows; ++r) {
    float* c = C + r * ldc;
    if (cols == kTileCols) {
      store(c, accumulate ? load(c) + t.c[r][0] : t.c[r][0]);
      store(c + kW, accumulate ? load(c + kW) + t.c[r][1] : t.c[r][1]);
    } else {
      if (cols0 > 0) store_part(c, accumulate ? load_part(c, cols0, 0.f) + t.c[r][0] : t.c[r][0], cols0);
      if (cols1 > 0) store_part(c + kW, accumulate ? load_part(c + kW, cols1, 0.f) + t.c[r][1] : t.c[r][1], cols1);
    }
  }
}

// C (M,N) = A B (accumulate: C += A B). A(i,k) = A[i a_row + k a_k]; B(k,j) = B[k ldb + j].
// Column panels outer, so a K x 2kW panel of B stays in L1 while all rows pass over it.
static void tile_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_row, int64_t a_k, const float* B,
                      int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  for (int64_t j = 0; j < N; j += kTileCols) {
    const int64_t cols = min_i64(kTileCols, N - j);
    for (int64_t i = 0; i < M; i += kTileRows)
      tile_4x2(min_i64(kTileRows, M - i), cols, K, A + i * a_row, a_row, a_k, B + j, ldb, C + i * ldc + j, ldc,
               accumulate);
  }
}

// ---- transposes (attention packs each head's keys and values as (hs, T) panels) ----------------

// Transposing a kW x kW block in log2(kW) stages: at stage h, rows i and i + h (bit h of i clear)
// swap their off-diagonal h-wide blocks, as two-vector shuffles with constant masks (unpack,
// shuffle and lane-permute instructions once compiled).
template <int H>
struct TransposeMasks {
  static constexpr int kLo(int c) { return (c & H) == 0 ? c : kW + c - H; }
  static constexpr int kHi(int c) { return (c & H) == 0 ? c + H : kW + c; }
};

template <int H>
static inline void transpose_stage(vf* r) {
  vi lo, hi;
  for (int c = 0; c < kW; ++c) {
    lo[c] = TransposeMasks<H>::kLo(c);
    hi[c] = TransposeMasks<H>::kHi(c);
  }
  for (int i = 0; i < kW; ++i)
    if ((i & H) == 0) {
      const vf a = r[i], b = r[i + H];
      r[i] = __builtin_shuffle(a, b, lo);
      r[i + H] = __builtin_shuffle(a, b, hi);
    }
}

static inline void transpose_block(float* dst, int64_t ldd, const float* src, int64_t lds) {
  vf r[kW];
  for (int i = 0; i < kW; ++i) r[i] = load(src + i * lds);
  if constexpr (kW >= 16) transpose_stage<8>(r);
  if constexpr (kW >= 8) transpose_stage<4>(r);
  transpose_stage<2>(r);
  transpose_stage<1>(r);
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
