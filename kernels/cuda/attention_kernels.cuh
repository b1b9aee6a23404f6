// kernels/cuda/attention_kernels.cuh
// The causal flash-attention kernels on CUDA cores (forward, backward D rows, dK/dV, dQ),
// grouped-query. Included only by attention.cu, which validates arguments, picks the template
// instance and launches them.
// Not here: checks, launch configuration, the tensor-core path (flash_attention.cu).
//
// Layout (kernels/ops.h): qkv (B,T,W), W = (NH + 2*NKV)*hs, holds per token NH query heads, then
// NKV key heads, then NKV value heads, hs channels each; query head h reads kv head
// h / (NH / NKV). For token (b,t): q of head h at qkv[(b*T+t)*W + h*hs], k of kv head kh at
// + C + kh*hs (C = NH*hs), v at + C + NKV*hs + kh*hs. With NKV == NH this is GPT-2's q | k | v
// (W = 3C). out/dout (B,T,C) at [(b*T+t)*C + h*hs]; lse and D (B,NH,T) at [(b*NH+h)*T + t]. All
// math is fp32.
//
// Thread layout shared by all kernels: one row (a query, or a key in dK/dV) is owned by a group
// of G = D/32 adjacent threads (D = head size padded to 32, 64 or 128), so each thread holds 32
// of the row's channels in registers. Thread g of a group owns the float4 chunks g, g+G, g+2G, ...
// (channels 4*(G*i+g) .. +3); interleaving the chunks makes the group's lanes read adjacent
// 16-byte words of a shared-memory row (no bank conflicts, and a broadcast across the groups).
// A dot product is the thread's partial sum plus log2(G) xor-shuffles inside the group. Loops
// over tiles are uniform across the block, so every lane reaches every shuffle and barrier;
// masking is done by values (p = 0), never by skipping.
#pragma once

#include "kernels/cuda/common.cuh"

namespace kernels::cuda {

template <int D>
struct AttnShape {
  static constexpr int G = D / 32;          // threads per row
  static constexpr int kPer = D / G;        // channels per thread (32)
  static constexpr int kChunks = kPer / 4;  // float4 chunks per thread (8)
};

// The shape every kernel takes (by value). hs <= D; NH is a multiple of NKV.
struct AttnGeometry {
  int T_len;       // tokens per sequence
  int NH, NKV;     // query heads, key/value heads
  int hs;          // head size
  int64_t W;       // qkv's row: (NH + 2*NKV) * hs
  int64_t C;       // out's row: NH * hs (also where k starts in a qkv row)
  float scale;     // 1 / sqrt(hs)
  // The kv head that query head h reads.
  __device__ __forceinline__ int kv_head(int h) const { return h / (NH / NKV); }
  // Offsets in a qkv row of query head h and of kv head kh's key and value.
  __device__ __forceinline__ int64_t q_off(int h) const { return int64_t(h) * hs; }
  __device__ __forceinline__ int64_t k_off(int kh) const { return C + int64_t(kh) * hs; }
  __device__ __forceinline__ int64_t v_off(int kh) const { return C + int64_t(NKV + kh) * hs; }
};

// r = the thread's channels of row `src` (hs real channels, zero padding beyond).
template <class T, int D>
__device__ __forceinline__ void attn_load_owned(float (&r)[AttnShape<D>::kPer], const T* src, int hs, int g) {
  constexpr int G = AttnShape<D>::G;
#pragma unroll
  for (int i = 0; i < AttnShape<D>::kChunks; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int d = 4 * (G * i + g) + e;
      r[4 * i + e] = d < hs ? to_float(src[d]) : 0.f;
    }
}

// Writes the thread's channels of r * scale to dst (only the hs real channels).
template <class T, int D>
__device__ __forceinline__ void attn_store_owned(T* dst, const float (&r)[AttnShape<D>::kPer], float scale, int hs,
                                                 int g) {
  constexpr int G = AttnShape<D>::G;
#pragma unroll
  for (int i = 0; i < AttnShape<D>::kChunks; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int d = 4 * (G * i + g) + e;
      if (d < hs) dst[d] = from_float<T>(r[4 * i + e] * scale);
    }
}

// Full dot product of a register row with a shared-memory row (D/4 float4), summed over the group.
template <int D>
__device__ __forceinline__ float attn_dot(const float (&r)[AttnShape<D>::kPer], const float4* srow, int g) {
  constexpr int G = AttnShape<D>::G;
  float acc = 0.f;
#pragma unroll
  for (int i = 0; i < AttnShape<D>::kChunks; ++i) {
    const float4 x = srow[G * i + g];
    acc += r[4 * i] * x.x + r[4 * i + 1] * x.y + r[4 * i + 2] * x.z + r[4 * i + 3] * x.w;
  }
#pragma unroll
  for (int off = G / 2; off > 0; off /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  return acc;
}

// r += a * (shared-memory row), on the thread's channels.
template <int D>
__device__ __forceinline__ void attn_axpy(float (&r)[AttnShape<D>::kPer], float a, const float4* srow, int g) {
  constexpr int G = AttnShape<D>::G;
#pragma unroll
  for (int i = 0; i < AttnShape<D>::kChunks; ++i) {
    const float4 x = srow[G * i + g];
    r[4 * i] += a * x.x;
    r[4 * i + 1] += a * x.y;
    r[4 * i + 2] += a * x.z;
    r[4 * i + 3] += a * x.w;
  }
}

// Cooperative load of rows [row0, row0 + ROWS) of one head slice into shared memory as fp32:
// tile[j][d] = src[(row0 + j) * stride + d] for row0 + j < T and d < hs, else 0.
template <class T, int D, int ROWS>
__device__ __forceinline__ void attn_load_tile(float4* tile, const T* src, int64_t stride, int row0, int T_len,
                                               int hs) {
  float* f = reinterpret_cast<float*>(tile);
  for (int idx = threadIdx.x; idx < ROWS * D; idx += blockDim.x) {
    const int j = idx / D, d = idx % D;
    const int row = row0 + j;
    f[idx] = (row < T_len && d < hs) ? to_float(src[int64_t(row) * stride + d]) : 0.f;
  }
}

// ---- forward: block = (query tile of BR rows, head, batch), key tiles of BC through smem --------
// Online softmax per row: running max m, running sum l, unnormalised output o (registers).
// Query tiles are visited heaviest first (the last tile sees the most keys).
template <class T, int D, int BR, int BC>
__global__ void __launch_bounds__(BR* AttnShape<D>::G)
    attention_forward_kernel(T* out, float* lse, const T* qkv, AttnGeometry a) {
  constexpr int G = AttnShape<D>::G, kPer = AttnShape<D>::kPer;
  __shared__ float4 ks[BC * D / 4], vs[BC * D / 4];
  const int b = blockIdx.z, h = blockIdx.y, kh = a.kv_head(h);
  const int T_len = a.T_len, hs = a.hs;
  const float scale = a.scale;
  const int q0 = (int(gridDim.x) - 1 - int(blockIdx.x)) * BR;
  const int r = threadIdx.x / G, g = threadIdx.x % G;
  const int t = min(q0 + r, T_len - 1);  // rows past T redo row T-1 and are never written
  const T* tokens = qkv + int64_t(b) * T_len * a.W;  // token 0 of the sequence
  const T* k_head = tokens + a.k_off(kh);
  const T* v_head = tokens + a.v_off(kh);

  float q[kPer], o[kPer];
  attn_load_owned<T, D>(q, tokens + int64_t(t) * a.W + a.q_off(h), hs, g);
#pragma unroll
  for (int i = 0; i < kPer; ++i) o[i] = 0.f;
  float m = -INFINITY, l = 0.f;

  const int q_last = min(q0 + BR, T_len) - 1;  // keys beyond it are masked for every row here
  for (int k0 = 0; k0 <= q_last; k0 += BC) {
    __syncthreads();  // everyone is done with the previous tile
    attn_load_tile<T, D, BC>(ks, k_head, a.W, k0, T_len, hs);
    attn_load_tile<T, D, BC>(vs, v_head, a.W, k0, T_len, hs);
    __syncthreads();
    float s[BC];
    float tile_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < BC; ++j) {
      const float dot = attn_dot<D>(q, ks + j * (D / 4), g);
      s[j] = (k0 + j <= t) ? dot * scale : -INFINITY;
      tile_max = fmaxf(tile_max, s[j]);
    }
    // Key 0 is in the first tile and visible to every row, so m is finite from then on.
    const float m_new = fmaxf(m, tile_max);
    const float corr = expf(m - m_new);  // first tile: exp(-inf) = 0, and o, l are 0 anyway
    l *= corr;
#pragma unroll
    for (int i = 0; i < kPer; ++i) o[i] *= corr;
#pragma unroll
    for (int j = 0; j < BC; ++j) {
      const float p = expf(s[j] - m_new);  // masked: exp(-inf) = 0
      l += p;
      attn_axpy<D>(o, p, vs + j * (D / 4), g);
    }
    m = m_new;
  }
  if (q0 + r < T_len) {
    attn_store_owned<T, D>(out + (int64_t(b) * T_len + t) * a.C + a.q_off(h), o, 1.f / l, hs, g);
    if (g == 0) lse[(int64_t(b) * a.NH + h) * T_len + t] = m + logf(l);
  }
}

// ---- backward, step 1: Drow[b,h,t] = dout_t . out_t (one warp per row) -------------------------
template <class T>
__global__ void attention_backward_d_kernel(float* Drow, const T* dout, const T* out, int B, int T_len, int C, int NH,
                                            int hs) {
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;  // = (b*NH + h)*T + t
  const int lane = threadIdx.x % 32;
  if (row >= int64_t(B) * NH * T_len) return;  // whole warp leaves together
  const int t = int(row % T_len);
  const int64_t bh = row / T_len;
  const int h = int(bh % NH), b = int(bh / NH);
  const int64_t off = (int64_t(b) * T_len + t) * C + int64_t(h) * hs;
  float acc = 0.f;
  for (int d = lane; d < hs; d += 32) acc += to_float(dout[off + d]) * to_float(out[off + d]);
  acc = warp_sum(acc);
  if (lane == 0) Drow[row] = acc;
}

// ---- backward, step 2: dK, dV. Block = (key tile of BK keys, kv head, batch). For each query ----
// head of the kv head's group in turn, query tiles of BQ rows (q, dout, lse, D) stream through smem
// from the key tile's diagonal to T-1. Per pair (t, j):
//   p = exp(q_t.k_j * scale - lse_t) (0 unless j <= t < T);  dv_j += p dout_t;
//   ds = p (dout_t . v_j - D_t) * scale;                     dk_j += ds q_t.
// Summing the group's query heads in this fixed order keeps grouped-query attention free of
// atomics: one thread group owns each key's dk and dv, so results are deterministic.
template <class T, int D, int BK, int BQ>
__global__ void __launch_bounds__(BK* AttnShape<D>::G)
    attention_backward_dkdv_kernel(T* dqkv, const T* dout, const T* qkv, const float* lse, const float* Drow,
                                   AttnGeometry a) {
  constexpr int G = AttnShape<D>::G, kPer = AttnShape<D>::kPer;
  __shared__ float4 qs[BQ * D / 4], dos[BQ * D / 4];
  __shared__ float lse_s[BQ], d_s[BQ];
  const int b = blockIdx.z, kh = blockIdx.y, group = a.NH / a.NKV;
  const int T_len = a.T_len, hs = a.hs;
  const float scale = a.scale;
  const int k0 = int(blockIdx.x) * BK;  // low key tiles see the most queries and are scheduled first
  const int r = threadIdx.x / G, g = threadIdx.x % G;
  const int j = min(k0 + r, T_len - 1);  // keys past T redo key T-1 and are never written
  const T* tokens = qkv + int64_t(b) * T_len * a.W;

  float k[kPer], v[kPer], dk[kPer], dv[kPer];
  attn_load_owned<T, D>(k, tokens + int64_t(j) * a.W + a.k_off(kh), hs, g);
  attn_load_owned<T, D>(v, tokens + int64_t(j) * a.W + a.v_off(kh), hs, g);
#pragma unroll
  for (int i = 0; i < kPer; ++i) dk[i] = dv[i] = 0.f;

  for (int h = kh * group; h < (kh + 1) * group; ++h) {
    const T* q_head = tokens + a.q_off(h);
    const T* dout_head = dout + int64_t(b) * T_len * a.C + a.q_off(h);
    const int64_t stat0 = (int64_t(b) * a.NH + h) * T_len;
    for (int t0 = k0 / BQ * BQ; t0 < T_len; t0 += BQ) {
      __syncthreads();
      attn_load_tile<T, D, BQ>(qs, q_head, a.W, t0, T_len, hs);
      attn_load_tile<T, D, BQ>(dos, dout_head, a.C, t0, T_len, hs);
      for (int i = threadIdx.x; i < BQ; i += blockDim.x) {
        lse_s[i] = t0 + i < T_len ? lse[stat0 + t0 + i] : 0.f;
        d_s[i] = t0 + i < T_len ? Drow[stat0 + t0 + i] : 0.f;
      }
      __syncthreads();
#pragma unroll 4
      for (int i = 0; i < BQ; ++i) {
        const int tq = t0 + i;
        const float s = attn_dot<D>(k, qs + i * (D / 4), g);
        const float p = (tq >= j && tq < T_len) ? expf(s * scale - lse_s[i]) : 0.f;
        attn_axpy<D>(dv, p, dos + i * (D / 4), g);
        const float dp = attn_dot<D>(v, dos + i * (D / 4), g);
        const float ds = p * (dp - d_s[i]) * scale;
        attn_axpy<D>(dk, ds, qs + i * (D / 4), g);
      }
    }
  }
  if (k0 + r < T_len) {
    T* dst = dqkv + (int64_t(b) * T_len + j) * a.W;
    attn_store_owned<T, D>(dst + a.k_off(kh), dk, 1.f, hs, g);
    attn_store_owned<T, D>(dst + a.v_off(kh), dv, 1.f, hs, g);
  }
}

// ---- backward, step 3: dQ. Block = (query tile of BR rows, query head, batch); K, V tiles of its
// kv head through smem.
//   p = exp(q_t.k_j * scale - lse_t) (0 unless j <= t);  ds = p (dout_t . v_j - D_t) * scale;
//   dq_t += ds k_j.
template <class T, int D, int BR, int BC>
__global__ void __launch_bounds__(BR* AttnShape<D>::G)
    attention_backward_dq_kernel(T* dqkv, const T* dout, const T* qkv, const float* lse, const float* Drow,
                                 AttnGeometry a) {
  constexpr int G = AttnShape<D>::G, kPer = AttnShape<D>::kPer;
  __shared__ float4 ks[BC * D / 4], vs[BC * D / 4];
  const int b = blockIdx.z, h = blockIdx.y, kh = a.kv_head(h);
  const int T_len = a.T_len, hs = a.hs;
  const float scale = a.scale;
  const int q0 = (int(gridDim.x) - 1 - int(blockIdx.x)) * BR;  // heaviest tiles first
  const int r = threadIdx.x / G, g = threadIdx.x % G;
  const int t = min(q0 + r, T_len - 1);
  const T* tokens = qkv + int64_t(b) * T_len * a.W;
  const T* k_head = tokens + a.k_off(kh);
  const T* v_head = tokens + a.v_off(kh);
  const int64_t stat = (int64_t(b) * a.NH + h) * T_len + t;

  float q[kPer], dO[kPer], dq[kPer];
  attn_load_owned<T, D>(q, tokens + int64_t(t) * a.W + a.q_off(h), hs, g);
  attn_load_owned<T, D>(dO, dout + (int64_t(b) * T_len + t) * a.C + a.q_off(h), hs, g);
#pragma unroll
  for (int i = 0; i < kPer; ++i) dq[i] = 0.f;
  const float row_lse = lse[stat], row_d = Drow[stat];

  const int q_last = min(q0 + BR, T_len) - 1;
  for (int k0 = 0; k0 <= q_last; k0 += BC) {
    __syncthreads();
    attn_load_tile<T, D, BC>(ks, k_head, a.W, k0, T_len, hs);
    attn_load_tile<T, D, BC>(vs, v_head, a.W, k0, T_len, hs);
    __syncthreads();
#pragma unroll 4
    for (int jj = 0; jj < BC; ++jj) {
      const float s = attn_dot<D>(q, ks + jj * (D / 4), g);
      const float p = (k0 + jj <= t) ? expf(s * scale - row_lse) : 0.f;
      const float dp = attn_dot<D>(dO, vs + jj * (D / 4), g);
      const float ds = p * (dp - row_d) * scale;
      attn_axpy<D>(dq, ds, ks + jj * (D / 4), g);
    }
  }
  if (q0 + r < T_len) attn_store_owned<T, D>(dqkv + (int64_t(b) * T_len + t) * a.W + a.q_off(h), dq, 1.f, hs, g);
}

}  // namespace kernels::cuda
