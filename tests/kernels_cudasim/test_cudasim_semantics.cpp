// tests/kernels_cudasim/test_cudasim_semantics.cpp
// The simulator does what a GPU does: built-in coordinates in 3-D grids and blocks, __syncthreads
// as a real barrier (values written before it by other threads are seen after it), the
// __syncthreads_count/and/or reductions, every shuffle mode with widths and segment edges, votes
// under partial masks, two halves of a warp in separate collectives at once, atomics across blocks,
// dynamic shared memory (poisoned with NaN at block start, as a reminder that it starts undefined),
// ldmatrix and mma.sync register layouts checked against the PTX ISA tables written out here.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cudasim/warp_matrix.h"
#include "tests/kernels_cudasim/sim_test_util.h"

namespace cudasim::test {
namespace {

__global__ void coords_kernel(uint32_t* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned per_block = blockDim.x * blockDim.y * blockDim.z;
  out[block * per_block + thread] = (blockIdx.z << 24) | (blockIdx.y << 20) | (blockIdx.x << 16) | (threadIdx.z << 8) |
                                    (threadIdx.y << 4) | threadIdx.x;
}

TEST(CudasimSemantics, CoordinatesIn3DGridsAndBlocks) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  std::vector<uint32_t> out(3 * 2 * 2 * 5 * 3 * 2, 0xffffffffu);
  launch<coords_kernel>(grid, block, 0, nullptr, out.data());
  size_t i = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 3; ++ty)
            for (unsigned tx = 0; tx < 5; ++tx, ++i)
              ASSERT_EQ(out[i], (bz << 24) | (by << 20) | (bx << 16) | (tz << 8) | (ty << 4) | tx) << i;
}

// Each thread writes its slot, then (after the barrier) reads its neighbour's: a sequential loop
// over threads would read stale values; a barrier makes every write visible.
__global__ void rotate_kernel(int* out, int rounds) {
  __shared__ int s[256];
  const int t = int(threadIdx.x), n = int(blockDim.x);
  int v = t * 10;
  for (int r = 0; r < rounds; ++r) {
    s[t] = v;
    __syncthreads();
    v = s[(t + 1) % n];
    __syncthreads();
  }
  out[blockIdx.x * n + t] = v;
}

TEST(CudasimSemantics, SyncthreadsIsABarrier) {
  const int n = 200, rounds = 7;
  std::vector<int> out(2 * n);
  launch<rotate_kernel>(2, n, 0, nullptr, out.data(), rounds);
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < n; ++t) ASSERT_EQ(out[size_t(b * n + t)], ((t + rounds) % n) * 10) << t;
}

__global__ void barrier_reductions_kernel(int* out) {
  const int t = int(threadIdx.x);
  const int c = __syncthreads_count(t % 3 == 0);
  const int a = __syncthreads_and(t < 1000);
  const int o = __syncthreads_or(t == 77);
  const int none = __syncthreads_or(0);
  if (t == 5) {
    out[0] = c;
    out[1] = a;
    out[2] = o;
    out[3] = none;
  }
}

TEST(CudasimSemantics, SyncthreadsCountAndOr) {
  std::vector<int> out(4, -1);
  launch<barrier_reductions_kernel>(1, 100, 0, nullptr, out.data());
  EXPECT_EQ(out, (std::vector<int>{34, 1, 1, 0}));
}

// out[4 * t + k]: k = 0 xor, 1 down, 2 up, 3 idx, with the given width.
__global__ void shuffle_kernel(int* out, int width) {
  const int t = int(threadIdx.x), lane = t % 32;
  const int v = 100 + lane;
  out[4 * t + 0] = __shfl_xor_sync(0xffffffffu, v, 5, width);
  out[4 * t + 1] = __shfl_down_sync(0xffffffffu, v, 3, width);
  out[4 * t + 2] = __shfl_up_sync(0xffffffffu, v, 2, width);
  out[4 * t + 3] = __shfl_sync(0xffffffffu, v, 7 + 3 * width, width);  // wraps modulo width
}

TEST(CudasimSemantics, ShuffleModesAndWidths) {
  for (int width : {32, 16, 8}) {
    std::vector<int> out(4 * 64);
    launch<shuffle_kernel>(1, 64, 0, nullptr, out.data(), width);
    for (int t = 0; t < 64; ++t) {
      const int l = t % 32, seg = l / width * width;
      const int x = l ^ 5;
      EXPECT_EQ(out[size_t(4 * t)], 100 + (x < seg + width ? x : l)) << "xor, width " << width << " lane " << l;
      EXPECT_EQ(out[size_t(4 * t + 1)], 100 + (l - seg + 3 < width ? l + 3 : l)) << "down " << width << " " << l;
      EXPECT_EQ(out[size_t(4 * t + 2)], 100 + (l - seg >= 2 ? l - 2 : l)) << "up " << width << " " << l;
      EXPECT_EQ(out[size_t(4 * t + 3)], 100 + seg + 7 % width) << "idx " << width << " " << l;
    }
  }
}

// 64-bit values and floats travel whole.
__global__ void shuffle_types_kernel(double* d, float* f, long long* q) {
  const int lane = int(threadIdx.x);
  d[lane] = __shfl_down_sync(0xffffffffu, 0.5 + lane, 1);
  f[lane] = __shfl_xor_sync(0xffffffffu, 0.25f * lane, 1);
  q[lane] = __shfl_sync(0xffffffffu, (1ll << 40) + lane, 31);
}

TEST(CudasimSemantics, ShuffleMovesDoublesFloatsAnd64BitIntegers) {
  std::vector<double> d(32);
  std::vector<float> f(32);
  std::vector<long long> q(32);
  launch<shuffle_types_kernel>(1, 32, 0, nullptr, d.data(), f.data(), q.data());
  for (int l = 0; l < 32; ++l) {
    EXPECT_EQ(d[size_t(l)], 0.5 + (l < 31 ? l + 1 : l));
    EXPECT_EQ(f[size_t(l)], 0.25f * float(l ^ 1));
    EXPECT_EQ(q[size_t(l)], (1ll << 40) + 31);
  }
}

// The lower half votes and reduces among itself (mask 0x0000ffff) while the upper half does its own
// collectives (mask 0xffff0000): independent groups of one warp, as Volta+ allows.
__global__ void split_warp_kernel(unsigned* out) {
  const int lane = int(threadIdx.x);
  if (lane < 16) {
    const unsigned b = __ballot_sync(0x0000ffffu, lane % 4 == 0);
    int v = lane;
    for (int o = 8; o > 0; o /= 2) v += __shfl_xor_sync(0x0000ffffu, v, o);
    out[lane] = b + 1000u * unsigned(v);
  } else {
    const int any = __any_sync(0xffff0000u, lane == 31), all = __all_sync(0xffff0000u, lane > 20);
    __syncwarp(0xffff0000u);
    out[lane] = unsigned(any * 10 + all);
  }
}

TEST(CudasimSemantics, HalvesOfAWarpInSeparateCollectives) {
  std::vector<unsigned> out(32);
  launch<split_warp_kernel>(1, 32, 0, nullptr, out.data());
  for (int l = 0; l < 16; ++l) EXPECT_EQ(out[size_t(l)], 0x1111u + 1000u * 120u) << l;  // sum 0..15 = 120
  for (int l = 16; l < 32; ++l) EXPECT_EQ(out[size_t(l)], 10u) << l;                  // any, not all
}

__global__ void atomics_kernel(float* fsum, int* isum, int* imax, unsigned* cas_count) {
  const int g = int(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(fsum, 0.5f);
  atomicAdd(isum, g);
  atomicMax(imax, g * 7 % 1000);
  unsigned seen = *cas_count, prev;
  while ((prev = atomicCAS(cas_count, seen, seen + 1)) != seen) seen = prev;
}

TEST(CudasimSemantics, AtomicsAcrossBlocks) {
  float fsum = 0.f;
  int isum = 0, imax = -1;
  unsigned cas = 0;
  launch<atomics_kernel>(4, 96, 0, nullptr, &fsum, &isum, &imax, &cas);
  EXPECT_EQ(fsum, 192.f);
  EXPECT_EQ(isum, 383 * 384 / 2);
  int want_max = -1;
  for (int g = 0; g < 384; ++g) want_max = std::max(want_max, g * 7 % 1000);
  EXPECT_EQ(imax, want_max);
  EXPECT_EQ(cas, 384u);
}

// Dynamic shared memory: written by one thread, read by another after a barrier. Before anything
// is written it holds NaN in every float (the simulator poisons it at each block's start).
__global__ void dynamic_shared_kernel(float* out, int* was_nan) {
  float* s = static_cast<float*>(::cudasim::detail::dynamic_shared());
  const int t = int(threadIdx.x), n = int(blockDim.x);
  if (t == 0) was_nan[blockIdx.x] = std::isnan(s[n - 1]) ? 1 : 0;
  __syncthreads();
  s[t] = float(blockIdx.x * 1000 + t);
  __syncthreads();
  out[blockIdx.x * n + t] = s[n - 1 - t];
}

TEST(CudasimSemantics, DynamicSharedMemory) {
  const int n = 50;
  std::vector<float> out(3 * n);
  std::vector<int> was_nan(3, 0);
  launch<dynamic_shared_kernel>(3, n, n * sizeof(float), nullptr, out.data(), was_nan.data());
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(was_nan[size_t(b)], 1) << "block " << b << ": dynamic shared memory was not poisoned";
    for (int t = 0; t < n; ++t) ASSERT_EQ(out[size_t(b * n + t)], float(b * 1000 + n - 1 - t));
  }
}

// ldmatrix x4 and x4.trans of four 8x8 matrices whose element (i, r, c) holds 64 i + 8 r + c;
// every lane's registers compared with the PTX ISA's table ("Matrix fragments for ldmatrix").
__global__ void ldmatrix_kernel(uint32_t* out, const uint16_t* m) {
  const int lane = int(threadIdx.x);
  const void* row = m + 64 * (lane / 8) + 8 * (lane % 8);  // lane names row lane % 8 of matrix lane / 8
  uint32_t r[4], rt[4];
  ldmatrix<4>(r, row, false, std::source_location::current());
  ldmatrix<4>(rt, row, true, std::source_location::current());
  for (int i = 0; i < 4; ++i) {
    out[8 * lane + i] = r[i];
    out[8 * lane + 4 + i] = rt[i];
  }
}

TEST(CudasimSemantics, LdmatrixFollowsPtxLayout) {
  alignas(16) uint16_t m[4 * 64];
  for (int i = 0; i < 4 * 64; ++i) m[i] = uint16_t(i);
  std::vector<uint32_t> out(32 * 8);
  launch<ldmatrix_kernel>(1, 32, 0, nullptr, out.data(), m);
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      // Thread lane holds row lane/4, columns 2*(lane%4) and +1 of matrix i; .trans: the transpose.
      const int r = lane / 4, c = 2 * (lane % 4);
      EXPECT_EQ(out[size_t(8 * lane + i)], uint32_t(64 * i + 8 * r + c) | uint32_t(64 * i + 8 * r + c + 1) << 16);
      EXPECT_EQ(out[size_t(8 * lane + 4 + i)], uint32_t(64 * i + 8 * c + r) | uint32_t(64 * i + 8 * (c + 1) + r) << 16);
    }
}

// mma.sync m16n8k16 with one-hot inputs: A = e(ra, ka), B = e(kb, nb) gives D = C + [ka == kb] at
// (ra, nb). Fragment registers are filled from the PTX ISA's tables as written here, independently
// of kernels/cuda/mma.cuh.
__global__ void mma_onehot_kernel(float* out, int ra, int ka, int kb, int nb) {
  const int lane = int(threadIdx.x), g = lane / 4, t = lane % 4;
  const uint32_t one = 0x3f80;  // bf16 1.0
  uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
  for (int j = 0; j < 4; ++j)
    for (int h = 0; h < 2; ++h)
      if (g + 8 * (j % 2) == ra && 2 * t + 8 * (j / 2) + h == ka) a[j] |= one << (16 * h);
  for (int j = 0; j < 2; ++j)
    for (int h = 0; h < 2; ++h)
      if (2 * t + 8 * j + h == kb && g == nb) b[j] |= one << (16 * h);
  float c[4], d[4];
  for (int i = 0; i < 4; ++i) c[i] = float(100 * (g + 8 * (i / 2)) + 2 * t + i % 2);  // C[row][col] = 100 row + col
  mma_m16n8k16(MmaType::kBF16, d, a, b, c, std::source_location::current());
  for (int i = 0; i < 4; ++i) out[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = d[i];
}

TEST(CudasimSemantics, MmaFollowsPtxLayout) {
  for (int ra : {0, 5, 8, 15})
    for (int ka : {0, 3, 9, 14})
      for (int kb : {ka, (ka + 1) % 16})
        for (int nb : {0, 7}) {
          std::vector<float> out(16 * 8);
          launch<mma_onehot_kernel>(1, 32, 0, nullptr, out.data(), ra, ka, kb, nb);
          for (int r = 0; r < 16; ++r)
            for (int c = 0; c < 8; ++c)
              ASSERT_EQ(out[size_t(r * 8 + c)], float(100 * r + c) + (r == ra && c == nb && ka == kb ? 1.f : 0.f))
                  << "ra " << ra << " ka " << ka << " kb " << kb << " nb " << nb << " at (" << r << "," << c << ")";
        }
}

TEST(CudasimSemantics, StatsCountLaunchesBlocksAndThreads) {
  const Stats before = stats();
  std::vector<int> out(2 * 64);
  launch<rotate_kernel>(2, 64, 0, nullptr, out.data(), 1);
  const Stats after = stats();
  EXPECT_EQ(after.launches - before.launches, 1);
  EXPECT_EQ(after.blocks - before.blocks, 2);
  EXPECT_EQ(after.threads - before.threads, 128);
  // Each thread is resumed once to start and once after each barrier, except the thread that
  // completes a barrier (the last to arrive), which runs on: 2 blocks x (64 + 2 x 63).
  EXPECT_EQ(after.switches - before.switches, 2 * (64 + 2 * 63));
}

}  // namespace
}  // namespace cudasim::test
