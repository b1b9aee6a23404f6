// kernels/cpu/simd/gemm_impl.h
// kiln's fp32 matrix product, C (M,N) = alpha op(A) op(B) + beta C, single-threaded (gemm.cpp splits
// a product over the OpenMP threads and calls this per block). Included once by each
// kernels/cpu/simd/isa_*.cpp (vec.h explains the arrangement).
//
// Why not only BLAS: Debian's OpenBLAS 0.3.21 runs 256-bit kernels even on AVX-512 cores (issue 16
// measured ~70 GFLOP/s on a ~215 GFLOP/s Zen 5 core), and at the model's shapes (K = 128..3072) it
// pays for packing A and zeroing C on every call. Here the same source gives a 6 x 16 register tile
// at AVX2 and a 12 x 32 tile at AVX-512; B is packed, beta = 0 stores without a zeroing pass, and a
// row-major A is read in place at 6 rows per tile (AVX2, SSE2: six row pointers fit the general
// registers). That skips packing's pass over A's rows: as fast with A in cache, and with this tile
// the forward and input-gradient products ran 3-4% faster inside a training step, where those rows
// come from L3 or memory. A transposed A (the weight gradients, dW = dY^T X) and AVX-512's 12 rows
// are packed.
//
// Blocking (BLIS order): columns in blocks of kGemmNC, K in blocks of kGemmKC (B's block packed
// into NR-wide panels, the packed panel in L1), rows in blocks of kGemmMC (A's block in L2).
// The last rows of M go through a tile of MR, 2MR/3 or MR/3 rows, whichever is the smallest that
// holds them (M = 128 at MR = 6: 21 tiles of 6 rows and one of 2, not 22 of 6).
// Determinism: each C element is summed over k in order, KC block after KC block, whatever the
// block position; callers split M or N, never K, so results do not depend on the thread count.
#pragma once

#include "kernels/cpu/simd/table.h"
#include "kernels/cpu/simd/tile_gemm_impl.h"

namespace kernels::cpu::simd::KILN_SIMD_NS {

// 12 x 2 vectors of accumulators fill AVX-512's 32 registers; 6 x 2 fill the 16 of SSE2 and AVX2.
constexpr int kGemmMR = kW >= 16 ? 12 : 6;
constexpr int kGemmNR = 2 * kW;
constexpr bool kGemmRowsInPlace = kGemmMR <= 6;  // a row-major A read in place (header)
// K block: B's micro-panel (kGemmKC x 2 kW floats) should stay in L1 (32 KiB on Zen 3, 48 KiB on
// Zen 4/5 and recent Intel): 512 x 16 floats at AVX2 measured best on Zen 3; 256 x 32 at AVX-512.
constexpr int64_t kGemmKC = kW >= 16 ? 256 : 512;
constexpr int64_t kGemmMC = 16 * kGemmMR;
constexpr int64_t kGemmNC = (int64_t(1) << 20) / kGemmKC;  // B block: 1M floats (4 MiB, L3)
static_assert(kGemmNC % kGemmNR == 0, "column blocks hold whole panels");
static_assert(kGemmKC * (kGemmNC + kGemmMC) + kW <= kGemmWorkspaceFloats,
              "table.h's workspace holds packed B, packed A and the slack of gemm_pack_a");

static inline void row_scale_by(float* p, float alpha) {
  store(p, load(p) * splat(alpha));
  store(p + kW, load(p + kW) * splat(alpha));
}

// Packs op(B)[k0 .. k0+kc, j0 .. j0+nc) times alpha into panels of kGemmNR columns: panel p holds
// rows k = 0..kc-1 of columns p NR .. p NR + NR - 1 contiguously (zeros past nc). op(B)(k, j) is
// B[k ldb + j], or B[j ldb + k] when transposed (read as kW x kW blocks through transpose_block).
static void gemm_pack_b(float* dst, const float* B, int64_t ldb, bool tb, int64_t k0, int64_t kc, int64_t j0,
                        int64_t nc, float alpha) {
  for (int64_t p = 0; p < nc; p += kGemmNR, dst += kc * kGemmNR) {
    const int64_t cols = min_i64(kGemmNR, nc - p);
    if (!tb && cols == kGemmNR) {
      const float* src = B + k0 * ldb + j0 + p;
      for (int64_t k = 0; k < kc; ++k, src += ldb) {
        store(dst + k * kGemmNR, load(src) * splat(alpha));
        store(dst + k * kGemmNR + kW, load(src + kW) * splat(alpha));
      }
      continue;
    }
    if (tb && cols == kGemmNR) {  // NR rows of the stored B, transposed block by block
      const int64_t kv = kc / kW * kW;
      for (int64_t jb = 0; jb < kGemmNR; jb += kW)
        for (int64_t k = 0; k < kv; k += kW)
          transpose_block(dst + k * kGemmNR + jb, kGemmNR, B + (j0 + p + jb) * ldb + k0 + k, ldb);
      for (int64_t k = kv; k < kc; ++k)
        for (int64_t j = 0; j < kGemmNR; ++j) dst[k * kGemmNR + j] = B[(j0 + p + j) * ldb + k0 + k];
      if (alpha != 1.f)
        for (int64_t k = 0; k < kc; ++k) row_scale_by(dst + k * kGemmNR, alpha);
      continue;
    }
    for (int64_t k = 0; k < kc; ++k)  // the last, partial panel
      for (int64_t j = 0; j < kGemmNR; ++j)
        dst[k * kGemmNR + j] =
            j < cols ? alpha * (tb ? B[(j0 + p + j) * ldb + k0 + k] : B[(k0 + k) * ldb + j0 + p + j]) : 0.f;
  }
}

// Packs op(A)[i0 .. i0+mc, k0 .. k0+kc) into micro-panels of kGemmMR rows: panel q holds, for each
// k, its MR rows' values contiguously (rows past mc repeat the last row; their results are never
// stored). op(A)(i, k) = A[i a_row + k a_k].
// Row-major A (a_k = 1) goes kW values of k at a time through a kW x kW transpose of kW rows (MR
// real ones, the last repeated): each transposed vector holds one k's rows, stored at stride MR, so
// its kW - MR extra lanes land where the next k's vector overwrites them (the workspace has kW
// floats of slack after the packed A for the last one).
static void gemm_pack_a(float* dst, const float* A, int64_t a_row, int64_t a_k, int64_t i0, int64_t mc, int64_t k0,
                        int64_t kc) {
  for (int64_t q = 0; q < mc; q += kGemmMR, dst += kc * kGemmMR) {
    const float* rows[kGemmMR];
    for (int r = 0; r < kGemmMR; ++r) rows[r] = A + (i0 + min_i64(q + r, mc - 1)) * a_row + k0 * a_k;
    int64_t k = 0;
    if constexpr (kGemmMR <= kW) {
      if (a_k == 1) {
        for (; k + kW <= kc; k += kW) {
          vf v[kW];
          for (int r = 0; r < kW; ++r) v[r] = load(rows[r < kGemmMR ? r : kGemmMR - 1] + k);
          transpose_vectors(v);
          for (int j = 0; j < kW; ++j) store(dst + (k + j) * kGemmMR, v[j]);
        }
      }
    }
    if (a_row == 1 && q + kGemmMR <= mc)  // transposed A: each k's MR rows are contiguous already
      for (; k < kc; ++k) __builtin_memcpy(dst + k * kGemmMR, rows[0] + k * a_k, kGemmMR * sizeof(float));
    for (; k < kc; ++k)
      for (int r = 0; r < kGemmMR; ++r) dst[k * kGemmMR + r] = rows[r][k * a_k];
  }
}

// C = alpha op(A) op(B) + beta C (+ bias per column). op(A)(i, k) = A[i lda + k], or A[k lda + i]
// when transposed. work: kGemmWorkspaceFloats floats (gemm.cpp keeps one per thread).
static void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias, float* work) {
  if (M <= 0 || N <= 0) return;
  if (beta != 0.f && beta != 1.f) {  // rare (no kiln op asks for it): scale once, then accumulate
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] *= beta;
    beta = 1.f;
  }
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = (beta == 0.f ? 0.f : C[i * ldc + j]) + (bias ? bias[j] : 0.f);
    return;
  }
  const int64_t a_row = ta ? 1 : lda, a_k = ta ? lda : 1;
  const bool pack_a = ta || !kGemmRowsInPlace;
  float* apack = work + kGemmKC * kGemmNC;
  constexpr int kThird = kGemmMR / 3;
  for (int64_t jc = 0; jc < N; jc += kGemmNC) {
    const int64_t nc = min_i64(kGemmNC, N - jc);
    for (int64_t pc = 0; pc < K; pc += kGemmKC) {
      const int64_t kc = min_i64(kGemmKC, K - pc);
      gemm_pack_b(work, B, ldb, tb, pc, kc, jc, nc, alpha);
      const bool accumulate = beta == 1.f || pc > 0;
      const float* block_bias = pc + kc >= K ? bias : nullptr;  // added once, by the last K block
      for (int64_t ic = 0; ic < M; ic += kGemmMC) {
        const int64_t mc = min_i64(kGemmMC, M - ic);
        if (pack_a) gemm_pack_a(apack, A, a_row, a_k, ic, mc, pc, kc);
        for (int64_t jr = 0; jr < nc; jr += kGemmNR) {
          const float* panel = work + jr * kc;
          const int64_t cols = min_i64(kGemmNR, nc - jr);
          const float* b = block_bias ? block_bias + jc + jr : nullptr;
          for (int64_t ir = 0; ir < mc; ir += kGemmMR) {
            const int64_t rows = min_i64(kGemmMR, mc - ir);
            float* c = C + (ic + ir) * ldc + jc + jr;
            // The tile's A: its packed micro-panel, or its rows of A where they are.
            const float* a = pack_a ? apack + ir * kc : A + (ic + ir) * lda + pc;
            const int64_t tr = pack_a ? 1 : lda, tk = pack_a ? kGemmMR : 1, tn = pack_a ? kGemmMR : rows;
            if (rows > 2 * kThird)
              tile_kernel<kGemmMR, true>(a, tr, tk, tn, panel, kGemmNR, cols, kc, c, ldc, rows, accumulate, b);
            else if (rows > kThird)
              tile_kernel<2 * kThird, true>(a, tr, tk, tn, panel, kGemmNR, cols, kc, c, ldc, rows, accumulate, b);
            else
              tile_kernel<kThird, true>(a, tr, tk, tn, panel, kGemmNR, cols, kc, c, ldc, rows, accumulate, b);
          }
        }
      }
    }
  }
}

}  // namespace kernels::cpu::simd::KILN_SIMD_NS
