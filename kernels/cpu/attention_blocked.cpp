// kernels/cpu/attention_blocked.cpp
// Blocked fp32 attention (attention_blocked.h): per (sequence, key/value head), the keys (and for
// backward the values) are first transposed into a contiguous (hs, keys) panel, so every score
// product Q_tile K^T reads contiguous rows; then tiles of query rows of each head that reads that
// key/value head go through tile_gemm and the row steps.
#include "kernels/cpu/attention_blocked.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

namespace {

// Spawning threads costs more than tiny problems (gradient checks, generation of one token).
constexpr int64_t kParallelWork = 1 << 16;

// One head's queries against its keys. Query i (0 <= i < rows) sits at position pos0 + i and sees
// keys 0 .. pos0 + i. q has row stride ldq, v ldv, out ldo; kt is the (hs, keys) key panel with
// keys = pos0 + rows. lse (rows) is written when not null. scores: kAttentionTile x keys scratch.
void head_forward(const simd::Kernels& K, const float* q, int64_t ldq, const float* kt, const float* v, int64_t ldv,
                  float* out, int64_t ldo, float* lse, int64_t rows, int64_t pos0, int64_t hs, float* scores) {
  const float scale = 1.0f / std::sqrt(float(hs));
  const int64_t keys_all = pos0 + rows;
  for (int64_t r0 = 0; r0 < rows; r0 += kAttentionTile) {
    const int64_t tile = std::min(kAttentionTile, rows - r0), keys = pos0 + r0 + tile;
    for (int64_t s0 = 0; s0 < tile; s0 += kAttentionSubTile) {  // S = Q_tile K^T, visible keys
      const int64_t s1 = std::min(tile, s0 + kAttentionSubTile), seen = pos0 + r0 + s1;
      K.tile_gemm(s1 - s0, seen, hs, q + (r0 + s0) * ldq, ldq, 1, kt, keys_all, scores + s0 * keys, keys, false);
    }
    K.attention_softmax_rows(scores, tile, keys, pos0 + r0 + 1, scale, lse ? lse + r0 : nullptr);
    for (int64_t s0 = 0; s0 < tile; s0 += kAttentionSubTile) {  // O_tile = P V
      const int64_t s1 = std::min(tile, s0 + kAttentionSubTile), seen = pos0 + r0 + s1;
      K.tile_gemm(s1 - s0, hs, seen, scores + s0 * keys, keys, 1, v, ldv, out + (r0 + s0) * ldo, ldo, false);
    }
  }
}

// Keys of one key/value head as an (hs, keys) panel, transposed only when the panel holds another
// head's: a thread's consecutive (b, h) tasks share it across a group of query heads. The panel is
// an exact copy, so skipping a transpose changes no number.
struct KeyPanel {
  std::vector<float> data;
  const float* source = nullptr;  // the first key the panel was transposed from
  const float* get(const simd::Kernels& K, const float* k, int64_t ldk, int64_t keys, int64_t hs) {
    if (source != k) {
      K.transpose(data.data(), keys, k, ldk, keys, hs);
      source = k;
    }
    return data.data();
  }
};

}  // namespace

void attention_forward_blocked(const simd::Kernels& K, float* out, float* lse, const float* qkv, int64_t B, int64_t T,
                               const AttentionGeometry& a) {
  const int64_t NH = a.NH, hs = a.hs, C = a.C, W = a.W;
#pragma omp parallel if (B * NH * T * T * hs > kParallelWork)
  {
    std::vector<float> scores(size_t(kAttentionTile * T));
    KeyPanel kt{std::vector<float>(size_t(hs * T))};
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h) {
        const float* row0 = qkv + b * T * W;  // token 0 of this sequence
        const int64_t g = h / a.group;
        head_forward(K, row0 + a.q(h), W, kt.get(K, row0 + a.k(g), W, T, hs), row0 + a.v(g), W,
                     out + b * T * C + h * hs, C, lse + (b * NH + h) * T, T, 0, hs, scores.data());
      }
  }
}

// Per (b, kv head g), then per query head h of its group and query tile, with P rebuilt from the
// saved lse (attention.h has the formulas):
//   S = Q K^T -> P = exp(scale S - lse);  dP = dO V^T -> dS = P (dP - D) scale, D_t = dO_t . O_t
//   dV += P^T dO;  dQ = dS K;  dK += dS^T Q
// dK and dV of g collect every head's and tile's contribution in (head, tile) order, inside one task
// (deterministic, whatever the thread count); dQ of a tile is final.
void attention_backward_blocked(const simd::Kernels& K, float* dqkv, const float* dout, const float* qkv,
                                const float* out, const float* lse, int64_t B, int64_t T, const AttentionGeometry& a) {
  const int64_t NH = a.NH, NKV = a.NKV, hs = a.hs, C = a.C, W = a.W;
  const float scale = 1.0f / std::sqrt(float(hs));
#pragma omp parallel if (B * NH * T * T * hs > kParallelWork)
  {
    std::vector<float> p(size_t(kAttentionTile * T)), dp(size_t(kAttentionTile * T));
    std::vector<float> kt(size_t(hs * T)), vt(size_t(hs * T));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t g = 0; g < NKV; ++g) {
        const float* row0 = qkv + b * T * W;
        float* drow0 = dqkv + b * T * W;
        const float *k = row0 + a.k(g), *v = row0 + a.v(g);
        float *dk = drow0 + a.k(g), *dv = drow0 + a.v(g);
        K.transpose(kt.data(), T, k, W, T, hs);
        K.transpose(vt.data(), T, v, W, T, hs);
        for (int64_t h = g * a.group; h < (g + 1) * a.group; ++h) {
          const bool first_head = h == g * a.group;
          const float* q = row0 + a.q(h);
          float* dq = drow0 + a.q(h);
          const float* dO = dout + b * T * C + h * hs;
          const float* O = out + b * T * C + h * hs;
          const float* row_lse = lse + (b * NH + h) * T;
          for (int64_t r0 = 0; r0 < T; r0 += kAttentionTile) {
            const int64_t tile = std::min(kAttentionTile, T - r0), keys = r0 + tile;
            for (int64_t s0 = 0; s0 < tile; s0 += kAttentionSubTile) {  // S, dP: visible keys
              const int64_t s1 = std::min(tile, s0 + kAttentionSubTile), seen = r0 + s1;
              K.tile_gemm(s1 - s0, seen, hs, q + (r0 + s0) * W, W, 1, kt.data(), T, p.data() + s0 * keys, keys, false);
              K.tile_gemm(s1 - s0, seen, hs, dO + (r0 + s0) * C, C, 1, vt.data(), T, dp.data() + s0 * keys, keys,
                          false);
            }
            K.attention_backward_rows(p.data(), dp.data(), tile, keys, r0 + 1, scale, row_lse + r0, dO + r0 * C,
                                      O + r0 * C, C, hs);  // P, dS
            // dV += P^T dO, dK += dS^T Q for key rows [k0, k1), from the query rows [q0, tile) that see
            // them. The group's first head finds the keys of its tile, [r0, keys), untouched so far
            // (earlier tiles reach only keys < r0) and writes them instead of adding to a zeroed row:
            // no clearing pass over dK, dV.
            const int64_t summed = first_head ? r0 : keys;  // keys [0, summed) of dK, dV hold sums
            const auto add_keys = [&](int64_t k0, int64_t k1, int64_t q0) {
              for (const bool acc : {true, false}) {
                const int64_t a = acc ? k0 : std::max(k0, summed), e = acc ? std::min(k1, summed) : k1;
                if (a >= e) continue;
                K.tile_gemm(e - a, hs, tile - q0, p.data() + q0 * keys + a, 1, keys, dO + (r0 + q0) * C, C,
                            dv + a * W, W, acc);
                K.tile_gemm(e - a, hs, tile - q0, dp.data() + q0 * keys + a, 1, keys, q + (r0 + q0) * W, W,
                            dk + a * W, W, acc);
              }
            };
            for (int64_t s0 = 0; s0 < tile; s0 += kAttentionSubTile) {
              const int64_t s1 = std::min(tile, s0 + kAttentionSubTile);
              // Keys below r0 + s1: every row of the tile from the first sub-tile on; the keys of a later
              // sub-tile only from its own rows on (the rows above see none of them).
              add_keys(s0 == 0 ? 0 : r0 + s0, r0 + s1, s0);
              K.tile_gemm(s1 - s0, hs, r0 + s1, dp.data() + s0 * keys, keys, 1, k, W, dq + (r0 + s0) * W, W,
                          false);  // dQ = dS K, visible keys
            }
          }
        }
      }
  }
}

void attention_cached_forward_blocked(const simd::Kernels& K, float* out, const float* qkv, float* k_cache,
                                      float* v_cache, int64_t pos0, int64_t n, const AttentionGeometry& a) {
  const int64_t NH = a.NH, hs = a.hs, C = a.C, W = a.W, KC = a.NKV * hs, keys = pos0 + n;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(k_cache + (pos0 + i) * KC, qkv + i * W + a.k(0), size_t(KC) * sizeof(float));
    std::memcpy(v_cache + (pos0 + i) * KC, qkv + i * W + a.v(0), size_t(KC) * sizeof(float));
  }
#pragma omp parallel if (NH * n * keys * hs > kParallelWork)
  {
    std::vector<float> scores(size_t(kAttentionTile * keys));
    KeyPanel kt{std::vector<float>(size_t(hs * keys))};
#pragma omp for schedule(static)
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t kv = (h / a.group) * hs;  // this head's offset inside a cache row
      head_forward(K, qkv + a.q(h), W, kt.get(K, k_cache + kv, KC, keys, hs), v_cache + kv, KC, out + h * hs, C,
                   nullptr, n, pos0, hs, scores.data());
    }
  }
}

}  // namespace kernels::cpu
