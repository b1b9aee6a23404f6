// kernels/cpu/attention_blocked.h
// Causal multi-head attention in fp32 through blocked matrix products: for each (sequence, head)
// and each tile of kAttentionTile query rows, the scores S = Q K^T of the tile against every key it
// may see, the row softmax, and the output P V are whole-tile products (simd::Kernels::tile_gemm, a
// register-tiled micro-kernel; simd/tile_gemm_impl.h says why not BLAS) around vectorised row steps.
// The fp32 path of attention.cpp's entry points; attention.h's per-pair reference stays the fp64
// path and the ground truth (tests/kernels/test_attention.cpp and test_simd_products.cpp compare the two).
//
// Same layouts and outputs as attention.h: qkv (B,T,3C) = [q | k | v], heads split C into NH x hs,
// out (B,T,C), lse (B,NH,T). Causality is exact: a tile computes scores against keys [0, its last
// row] and each row step zeroes the keys past its own position (at most kAttentionTile - 1 wasted
// columns per row).
// Threads: one task per (b, h) (per head for the cached forward), each single-threaded, so a result
// never depends on the thread count. Accuracy against the fp64 reference: out, lse and dqkv within
// 2e-6 norm-relative (simd/table.h kAttentionMaxRelError; test_simd_products.cpp, every level).
#pragma once

#include <cstdint>

#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

// Query rows per tile: the masked corner of each diagonal tile is computed and thrown away, so
// small tiles waste less; the micro-kernel needs no packing, so small tiles cost nothing else.
constexpr int64_t kAttentionTile = 32;

// K: the SIMD level's kernels (simd::active() from the entry points; tests pass each level's).
void attention_forward_blocked(const simd::Kernels& K, float* out, float* lse, const float* qkv, int64_t B, int64_t T,
                               int64_t C, int64_t NH);
void attention_backward_blocked(const simd::Kernels& K, float* dqkv, const float* dout, const float* qkv,
                                const float* out, const float* lse, int64_t B, int64_t T, int64_t C, int64_t NH);
// KV-cache forward (one sequence): as attention_cached_forward_ref in attention.h.
void attention_cached_forward_blocked(const simd::Kernels& K, float* out, const float* qkv, float* k_cache,
                                      float* v_cache, int64_t pos0, int64_t n, int64_t C, int64_t NH);

}  // namespace kernels::cpu
