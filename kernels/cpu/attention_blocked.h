// kernels/cpu/attention_blocked.h
// Causal grouped-query attention in fp32 through blocked matrix products: for each (sequence, head)
// and each tile of kAttentionTile query rows, the scores S = Q K^T of the tile against every key it
// may see, the row softmax, and the output P V are whole-tile products (simd::Kernels::tile_gemm, a
// register-tiled micro-kernel; simd/tile_gemm_impl.h says why not BLAS) around vectorised row steps.
// The fp32 path of attention.cpp's entry points, multi-head and grouped-query alike; attention.h's
// per-pair reference stays the fp64 path and the ground truth (tests/kernels/test_attention.cpp and
// test_simd_products.cpp compare the two).
//
// Same layouts and outputs as attention.h (AttentionGeometry): qkv (B,T,(NH+2*NKV)*hs) = [q heads |
// k heads | v heads], query head h reads key/value head h / (NH/NKV), out (B,T,NH*hs), lse (B,NH,T).
// Multi-head (NKV == NH) is the case group = 1 and runs exactly the multi-head code of before.
// Causality is exact: a tile computes scores against keys [0, its last row] and each row step zeroes
// the keys past its own position (at most kAttentionTile - 1 wasted columns per row).
// Threads: forward one task per (b, h) (per head for the cached forward), backward one per (b, kv
// head), whose query heads add into its dk and dv in head order; each task is single-threaded, so a
// result never depends on the thread count. Accuracy against the fp64 reference: out, lse and dqkv
// within 2e-6 norm-relative (simd/table.h kAttentionMaxRelError; test_simd_products.cpp, every level).
#pragma once

#include <cstdint>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

// Query rows per tile. Inside a tile, sub-tiles of kAttentionSubTile rows take only the keys they
// see (rows [s0, s1) of a tile at r0: keys below r0 + s1) in every product, so of the masked corner
// of each diagonal tile only the sub-tiles' own corners are computed and thrown away (at T = 128:
// ~10% of attention's multiply-adds saved, the same sums: the skipped terms are exact zeros). The
// forward's softmax masks the lanes past a row's keys whatever they hold; in the backward (queries
// from position 0) the sub-tile is a multiple of 16, so every SIMD width's row vectors end on a
// sub-tile's last key and the dS step, which multiplies dP, never reads one left uncomputed.
constexpr int64_t kAttentionTile = 32;
constexpr int64_t kAttentionSubTile = 16;
static_assert(kAttentionTile % kAttentionSubTile == 0 && kAttentionSubTile % 16 == 0, "see above");

// K: the SIMD level's kernels (simd::active() from the entry points; tests pass each level's).
void attention_forward_blocked(const simd::Kernels& K, float* out, float* lse, const float* qkv, int64_t B, int64_t T,
                               const AttentionGeometry& a);
void attention_backward_blocked(const simd::Kernels& K, float* dqkv, const float* dout, const float* qkv,
                                const float* out, const float* lse, int64_t B, int64_t T, const AttentionGeometry& a);
// KV-cache forward (one sequence; caches (maxT, NKV*hs)): as attention_cached_forward_ref in attention.h.
void attention_cached_forward_blocked(const simd::Kernels& K, float* out, const float* qkv, float* k_cache,
                                      float* v_cache, int64_t pos0, int64_t n, const AttentionGeometry& a);

}  // namespace kernels::cpu
