// kernels/cuda/flash_attention_kernels.cuh
// Causal flash attention on tensor cores (FlashAttention-2's work split on mma.sync m16n8k16,
// through the fragment API of mma.cuh): forward, and backward as a dQ kernel (which also writes
// D = rowsum(dout * out)) followed by a dK/dV kernel. 16-bit inputs (bf16 or fp16), fp32
// accumulators and softmax statistics. Included only by flash_attention.cu, which checks
// arguments, picks tile sizes and launches. Not here: checks, launch configuration, the fp32
// CUDA-core kernels (attention_kernels.cuh).
//
// Layout (FlashShape): q, k, v point at token 0, head 0 of batch 0; token t of batch b, head h is
// at (b*T + t) * stride + h*D, with q_stride for q (and dq) and kv_stride for k, v (and dk, dv).
// Query head h reads kv head h / (NH / NKV) (grouped-query attention; NKV == NH is plain
// multi-head attention). out/dout (B,T,NH*D) with out_stride; lse and D rows (B,NH,T) fp32.
//
// Every kernel: warps of 32 lanes each own 16 rows of the block's tile (queries, or keys in
// dK/dV); tiles of the other side stream through shared memory. Shared-memory rows are D + 8
// elements (16 bytes of padding), so the 8 rows an ldmatrix reads fall in different banks.
// Scores are kept in log2 units (exp2f): s2 = q.k * scale * log2(e), and lse2 = lse * log2(e).
// Loops over tiles are uniform across the block (barriers), and a warp whose rows are all before
// a tile's first key (causal) skips that tile's math as a whole warp, so every lane still reaches
// every shuffle and mma of the warp.
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/mma.cuh"

namespace kernels::cuda {

struct FlashShape {
  int T_len, NH, NKV;
  int64_t q_stride, kv_stride, out_stride;  // elements between consecutive tokens
  float scale;                              // 1/sqrt(head size)
};

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Shared-memory row stride (elements) of a D-wide tile.
template <int D>
__host__ __device__ constexpr int flash_ld() {
  return D + 8;
}

// Cooperative copy of rows [row0, row0 + ROWS) of one head (D contiguous 16-bit values per row)
// into shared memory, 16 bytes per thread and step; rows at or past T are zeros.
template <class T, int D, int ROWS>
__device__ __forceinline__ void flash_load_tile(T* tile, const T* src, int64_t stride, int row0, int T_len) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  for (int idx = threadIdx.x; idx < ROWS * kChunks; idx += blockDim.x) {
    const int r = idx / kChunks, c = idx % kChunks;
    uint4 val = make_uint4(0u, 0u, 0u, 0u);
    if (row0 + r < T_len) val = *reinterpret_cast<const uint4*>(src + int64_t(row0 + r) * stride + c * 8);
    *reinterpret_cast<uint4*>(tile + r * flash_ld<D>() + c * 8) = val;
  }
}

// Sum / max over the 4 lanes (t = lane % 4) that hold one accumulator row.
__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}
__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

// acc[n] (16 x 8 tiles n = 0..N-1) += A (16 rows x D, shared memory, row stride ld) times the
// transpose of N*8 rows of B (shared memory, each D long): the 16 x 8N block A B^T.
template <class T, int D, int N>
__device__ __forceinline__ void flash_mma_abt(mma::FragC (&acc)[N], const T* a_rows, const T* b_rows) {
  constexpr int LD = flash_ld<D>();
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    mma::FragA<T> a;
    mma::load_a(a, a_rows + kk * 16, LD);
#pragma unroll
    for (int n = 0; n < N; ++n) {
      mma::FragB<T> b;
      mma::load_b_nk(b, b_rows + n * 8 * LD + kk * 16, LD);
      mma::mma_sync(acc[n], a, b, acc[n]);
    }
  }
}

// As flash_mma_abt with A already in registers (a[kk] = columns 16kk..16kk+15).
template <class T, int D, int N>
__device__ __forceinline__ void flash_mma_abt_reg(mma::FragC (&acc)[N], const mma::FragA<T> (&a)[D / 16],
                                                  const T* b_rows) {
  constexpr int LD = flash_ld<D>();
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
    for (int n = 0; n < N; ++n) {
      mma::FragB<T> b;
      mma::load_b_nk(b, b_rows + n * 8 * LD + kk * 16, LD);
      mma::mma_sync(acc[n], a[kk], b, acc[n]);
    }
}

// acc[n] (D/8 tiles of 16 x 8) += P (16 x K, the accumulators p[0..K/8-1], rounded to T) times
// K rows of B in shared memory (each D long): the 16 x D block P B.
template <class T, int D, int K>
__device__ __forceinline__ void flash_mma_pb(mma::FragC (&acc)[D / 8], const mma::FragC (&p)[K / 8], const T* b_rows) {
  constexpr int LD = flash_ld<D>();
#pragma unroll
  for (int kk = 0; kk < K / 16; ++kk) {
    const mma::FragA<T> a = mma::a_from_accumulators<T>(p[2 * kk], p[2 * kk + 1]);
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      mma::FragB<T> b;
      mma::load_b_kn(b, b_rows + kk * 16 * LD + n * 8, LD);
      mma::mma_sync(acc[n], a, b, acc[n]);
    }
  }
}

template <int N>
__device__ __forceinline__ void flash_zero(mma::FragC (&acc)[N]) {
#pragma unroll
  for (int n = 0; n < N; ++n) acc[n] = mma::FragC{{0.f, 0.f, 0.f, 0.f}};
}

// Writes a warp's 16 x D accumulator rows (row0 + 0..15) times row_scale[0] (row g) and
// row_scale[1] (row g + 8) to dst (token stride `stride`), rows at or past T skipped.
template <class T, int D>
__device__ __forceinline__ void flash_store_rows(T* dst, int64_t stride, const mma::FragC (&acc)[D / 8], int row0,
                                                 int T_len, const float (&row_scale)[2]) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int row = row0 + mma::c_row(lane, 2 * half);
    if (row >= T_len) continue;
    T* out_row = dst + int64_t(row) * stride;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      const int col = n * 8 + mma::c_col(lane, 0);  // even: the pair is one aligned 32-bit word
      *reinterpret_cast<uint32_t*>(out_row + col) = mma::pack<T>(acc[n].v[2 * half] * row_scale[half],
                                                                  acc[n].v[2 * half + 1] * row_scale[half]);
    }
  }
}

// ---- forward: block = (BR query rows, head, batch), BR/16 warps; key tiles of BC ---------------
// Online softmax per row (running max m and sum l, per lane over its columns; the 4 lanes of a
// row agree on m and add their l at the end); o = unnormalised output in accumulators.
template <class T, int D, int BR, int BC>
__global__ void __launch_bounds__(BR / 16 * 32)
    flash_attention_forward_kernel(T* out, float* lse, const T* q, const T* k, const T* v, FlashShape s) {
  static_assert(BR % 16 == 0 && BC % 16 == 0 && BR <= 2 * BC, "tile sizes");
  constexpr int LD = flash_ld<D>();
  KILN_DYNAMIC_SHARED(T, smem);  // K tile (BC x LD), V tile (BC x LD); Q staged here first
  T* ks = smem;
  T* vs = smem + BC * LD;
  const int b = blockIdx.z, h = blockIdx.y, kvh = h / (s.NH / s.NKV);
  const int q0 = (int(gridDim.x) - 1 - int(blockIdx.x)) * BR;  // heaviest query tiles first
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row0 = q0 + warp * 16;                                     // the warp's first query
  const int rows[2] = {row0 + mma::c_row(lane, 0), row0 + mma::c_row(lane, 2)};  // the lane's two rows
  const int64_t T_len = s.T_len;
  const T* qb = q + int64_t(b) * T_len * s.q_stride + int64_t(h) * D;
  const T* kb = k + int64_t(b) * T_len * s.kv_stride + int64_t(kvh) * D;
  const T* vb = v + int64_t(b) * T_len * s.kv_stride + int64_t(kvh) * D;
  const float scale2 = s.scale * kLog2e;

  // Q: staged through shared memory into registers (A fragments) for the whole block's life.
  flash_load_tile<T, D, BR>(smem, qb, s.q_stride, q0, s.T_len);
  __syncthreads();
  mma::FragA<T> qf[D / 16];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) mma::load_a(qf[kk], smem + warp * 16 * LD + kk * 16, LD);

  mma::FragC o[D / 8];
  flash_zero(o);
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  const int q_last = min(q0 + BR, s.T_len) - 1;  // keys past it are masked for every row here
  for (int k0 = 0; k0 <= q_last; k0 += BC) {
    __syncthreads();  // everyone is done with the previous tile (and with the staged Q)
    flash_load_tile<T, D, BC>(ks, kb, s.kv_stride, k0, s.T_len);
    flash_load_tile<T, D, BC>(vs, vb, s.kv_stride, k0, s.T_len);
    __syncthreads();
    if (k0 > row0 + 15) continue;  // every key of the tile is in the future of every row of the warp

    mma::FragC sc[BC / 8];
    flash_zero(sc);
    flash_mma_abt_reg<T, D, BC / 8>(sc, qf, ks);
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < BC / 8; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int key = k0 + n * 8 + mma::c_col(lane, i);
        const float x = key <= rows[i / 2] ? sc[n].v[i] * scale2 : -INFINITY;
        sc[n].v[i] = x;
        tile_max[i / 2] = fmaxf(tile_max[i / 2], x);
      }
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      // Key 0 is in the first tile and visible to every row, so m is finite from then on.
      const float m_new = fmaxf(m[r], quad_max(tile_max[r]));
      corr[r] = exp2f(m[r] - m_new);  // first tile: exp2(-inf) = 0, and o, l are 0 anyway
      l[r] *= corr[r];
      m[r] = m_new;
    }
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) o[n].v[i] *= corr[i / 2];
#pragma unroll
    for (int n = 0; n < BC / 8; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float p = exp2f(sc[n].v[i] - m[i / 2]);  // masked: exp2(-inf) = 0
        sc[n].v[i] = p;
        l[i / 2] += p;
      }
    flash_mma_pb<T, D, BC>(o, sc, vs);  // P rounded to T as the A operand, as FlashAttention-2
  }

  float inv_l[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] = quad_sum(l[r]);
    inv_l[r] = 1.f / l[r];
  }
  flash_store_rows<T, D>(out + int64_t(b) * T_len * s.out_stride + int64_t(h) * D, s.out_stride, o, row0, s.T_len,
                         inv_l);
  if (lane % 4 == 0)
#pragma unroll
    for (int r = 0; r < 2; ++r)
      if (rows[r] < s.T_len) lse[(int64_t(b) * s.NH + h) * T_len + rows[r]] = m[r] * kLn2 + logf(l[r]);
}

// ---- backward, step 1: dQ (and D). Block = (BR query rows, head, batch); key tiles of BC -------
// Per row t: D_t = dout_t . out_t (written to Drow for step 2); for keys j <= t:
//   p = exp(q_t.k_j * scale - lse_t);  ds = p (dout_t . v_j - D_t) * scale;  dq_t += ds k_j.
template <class T, int D, int BR, int BC>
__global__ void __launch_bounds__(BR / 16 * 32)
    flash_attention_backward_dq_kernel(T* dq, float* Drow, const T* dout, const T* out, const T* q, const T* k,
                                       const T* v, const float* lse, FlashShape s) {
  static_assert(BR % 16 == 0 && BC % 16 == 0 && BR <= BC, "tile sizes");
  constexpr int LD = flash_ld<D>();
  KILN_DYNAMIC_SHARED(T, smem);  // K tile, V tile (BC x LD each); Q and dout staged there first
  T* ks = smem;
  T* vs = smem + BC * LD;
  const int b = blockIdx.z, h = blockIdx.y, kvh = h / (s.NH / s.NKV);
  const int q0 = (int(gridDim.x) - 1 - int(blockIdx.x)) * BR;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row0 = q0 + warp * 16;
  const int rows[2] = {row0 + mma::c_row(lane, 0), row0 + mma::c_row(lane, 2)};
  const int64_t T_len = s.T_len;
  const int64_t stat0 = (int64_t(b) * s.NH + h) * T_len;
  const T* qb = q + int64_t(b) * T_len * s.q_stride + int64_t(h) * D;
  const T* kb = k + int64_t(b) * T_len * s.kv_stride + int64_t(kvh) * D;
  const T* vb = v + int64_t(b) * T_len * s.kv_stride + int64_t(kvh) * D;
  const T* dob = dout + int64_t(b) * T_len * s.out_stride + int64_t(h) * D;
  const T* ob = out + int64_t(b) * T_len * s.out_stride + int64_t(h) * D;
  const float scale2 = s.scale * kLog2e;

  // Q and dout into registers (A fragments), staged through the K and V buffers.
  flash_load_tile<T, D, BR>(ks, qb, s.q_stride, q0, s.T_len);
  flash_load_tile<T, D, BR>(vs, dob, s.out_stride, q0, s.T_len);
  __syncthreads();
  mma::FragA<T> qf[D / 16], dof[D / 16];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    mma::load_a(qf[kk], ks + warp * 16 * LD + kk * 16, LD);
    mma::load_a(dof[kk], vs + warp * 16 * LD + kk * 16, LD);
  }
  __syncthreads();  // the Q tile is read: out replaces it
  flash_load_tile<T, D, BR>(ks, ob, s.out_stride, q0, s.T_len);
  __syncthreads();
  // D for the warp's 16 rows from the staged dout (vs) and out (ks): lanes 2r and 2r+1 sum
  // halves of row r. Then each lane fetches the values of its two accumulator rows.
  float row_d[2], row_lse2[2];
  {
    const int rr = warp * 16 + lane / 2;
    float acc = 0.f;
    for (int d = (lane % 2) * (D / 2); d < (lane % 2 + 1) * (D / 2); ++d)
      acc += to_float(vs[rr * LD + d]) * to_float(ks[rr * LD + d]);
    acc += __shfl_xor_sync(0xffffffffu, acc, 1);
    if (q0 + rr < s.T_len && lane % 2 == 0) Drow[stat0 + q0 + rr] = acc;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      row_d[r] = __shfl_sync(0xffffffffu, acc, 2 * (rows[r] - row0));
      row_lse2[r] = rows[r] < s.T_len ? lse[stat0 + rows[r]] * kLog2e : 0.f;
    }
  }

  mma::FragC dqa[D / 8];
  flash_zero(dqa);
  const int q_last = min(q0 + BR, s.T_len) - 1;
  for (int k0 = 0; k0 <= q_last; k0 += BC) {
    __syncthreads();
    flash_load_tile<T, D, BC>(ks, kb, s.kv_stride, k0, s.T_len);
    flash_load_tile<T, D, BC>(vs, vb, s.kv_stride, k0, s.T_len);
    __syncthreads();
    if (k0 > row0 + 15) continue;

    mma::FragC sc[BC / 8], dp[BC / 8];
    flash_zero(sc);
    flash_zero(dp);
    flash_mma_abt_reg<T, D, BC / 8>(sc, qf, ks);   // S = Q K^T
    flash_mma_abt_reg<T, D, BC / 8>(dp, dof, vs);  // dP = dout V^T
#pragma unroll
    for (int n = 0; n < BC / 8; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int key = k0 + n * 8 + mma::c_col(lane, i);
        const float p = key <= rows[i / 2] ? exp2f(sc[n].v[i] * scale2 - row_lse2[i / 2]) : 0.f;
        sc[n].v[i] = p * (dp[n].v[i] - row_d[i / 2]) * s.scale;  // dS
      }
    flash_mma_pb<T, D, BC>(dqa, sc, ks);  // dQ += dS K
  }
  const float one[2] = {1.f, 1.f};
  flash_store_rows<T, D>(dq + int64_t(b) * T_len * s.q_stride + int64_t(h) * D, s.q_stride, dqa, row0, s.T_len, one);
}

// ---- backward, step 2: dK, dV. Block = (BK keys, kv head, batch), BK/16 warps; for each query
// head of the kv head's group, query tiles of BQ rows (q, dout, lse, D) stream through shared
// memory from the block's diagonal to T-1. Per pair (t, j), j <= t < T:
//   p = exp(q_t.k_j * scale - lse_t);  dv_j += p dout_t;
//   ds = p (dout_t . v_j - D_t) * scale;  dk_j += ds q_t.
// The warp computes transposed tiles (its 16 keys are the rows): S^T = K Q^T, dP^T = V dout^T.
// Summing the group's heads here keeps GQA free of atomics (results are deterministic).
template <class T, int D, int BK, int BQ>
__global__ void __launch_bounds__(BK / 16 * 32)
    flash_attention_backward_dkdv_kernel(T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                                         const float* lse, const float* Drow, FlashShape s) {
  static_assert(BK % 16 == 0 && BQ % 16 == 0 && BK % BQ == 0, "tile sizes");
  constexpr int LD = flash_ld<D>();
  KILN_DYNAMIC_SHARED(T, smem);  // K (BK x LD), V (BK x LD), Q (BQ x LD), dout (BQ x LD), lse2, D
  T* ks = smem;
  T* vs = ks + BK * LD;
  T* qs = vs + BK * LD;
  T* dos = qs + BQ * LD;
  float* lse2_s = reinterpret_cast<float*>(dos + BQ * LD);
  float* d_s = lse2_s + BQ;
  const int b = blockIdx.z, kvh = blockIdx.y, group = s.NH / s.NKV;
  const int k0 = int(blockIdx.x) * BK;  // low key tiles see the most queries and are scheduled first
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int key0 = k0 + warp * 16;  // the warp's first key
  const int keys[2] = {key0 + mma::c_row(lane, 0), key0 + mma::c_row(lane, 2)};
  const int64_t T_len = s.T_len;
  const T* kb = k + int64_t(b) * T_len * s.kv_stride + int64_t(kvh) * D;
  const T* vb = v + int64_t(b) * T_len * s.kv_stride + int64_t(kvh) * D;
  const float scale2 = s.scale * kLog2e;

  flash_load_tile<T, D, BK>(ks, kb, s.kv_stride, k0, s.T_len);
  flash_load_tile<T, D, BK>(vs, vb, s.kv_stride, k0, s.T_len);
  mma::FragC dka[D / 8], dva[D / 8];
  flash_zero(dka);
  flash_zero(dva);
  for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
    const T* qb = q + int64_t(b) * T_len * s.q_stride + int64_t(h) * D;
    const T* dob = dout + int64_t(b) * T_len * s.out_stride + int64_t(h) * D;
    const int64_t stat0 = (int64_t(b) * s.NH + h) * T_len;
    for (int t0 = k0; t0 < s.T_len; t0 += BQ) {
      __syncthreads();  // everyone is done with the previous query tile
      flash_load_tile<T, D, BQ>(qs, qb, s.q_stride, t0, s.T_len);
      flash_load_tile<T, D, BQ>(dos, dob, s.out_stride, t0, s.T_len);
      for (int i = threadIdx.x; i < BQ; i += blockDim.x) {
        lse2_s[i] = t0 + i < s.T_len ? lse[stat0 + t0 + i] * kLog2e : 0.f;
        d_s[i] = t0 + i < s.T_len ? Drow[stat0 + t0 + i] : 0.f;
      }
      __syncthreads();
      if (t0 + BQ - 1 < key0) continue;  // every query of the tile is before every key of the warp

      mma::FragC st[BQ / 8], dpt[BQ / 8];
      flash_zero(st);
      flash_zero(dpt);
      flash_mma_abt<T, D, BQ / 8>(st, ks + warp * 16 * LD, qs);    // S^T = K Q^T
      flash_mma_abt<T, D, BQ / 8>(dpt, vs + warp * 16 * LD, dos);  // dP^T = V dout^T
#pragma unroll
      for (int n = 0; n < BQ / 8; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int qi = n * 8 + mma::c_col(lane, i), query = t0 + qi;
          const float p =
              (query >= keys[i / 2] && query < s.T_len) ? exp2f(st[n].v[i] * scale2 - lse2_s[qi]) : 0.f;
          st[n].v[i] = p;
          dpt[n].v[i] = p * (dpt[n].v[i] - d_s[qi]) * s.scale;  // dS^T
        }
      flash_mma_pb<T, D, BQ>(dva, st, dos);  // dV += P^T dout
      flash_mma_pb<T, D, BQ>(dka, dpt, qs);  // dK += dS^T Q
    }
  }
  const float one[2] = {1.f, 1.f};
  const int64_t at = int64_t(b) * T_len * s.kv_stride + int64_t(kvh) * D;
  flash_store_rows<T, D>(dk + at, s.kv_stride, dka, key0, s.T_len, one);
  flash_store_rows<T, D>(dv + at, s.kv_stride, dva, key0, s.T_len, one);
}

}  // namespace kernels::cuda
