// kernels/cudasim/warp_matrix.h
// The simulator's mma.sync.m16n8k16 and ldmatrix: warp collectives that gather every lane's
// fragment registers, apply the PTX fragment layouts element by element (scheduler.cpp,
// warp_matrix.cpp) and hand each lane its registers back. Called by
// kernels/cuda/compat.cuh's mma/ldmatrix primitives in the simulator build. Not here: the fragment
// API kernels use (kernels/cuda/mma.cuh).
#pragma once

#include <cstdint>
#include <cstring>
#include <source_location>

#include "kernels/cudasim/device_api.h"

namespace cudasim {

namespace detail {
// Called by the scheduler when all 32 lanes have arrived: lanes[l] is lane l's part, out[l] its
// result registers (warp_matrix.cpp).
void complete_mma(const WarpArgs* const (&lanes)[32], uint64_t* const (&out)[32]);
void complete_ldmatrix(const WarpArgs* const (&lanes)[32], uint64_t* const (&out)[32]);
}  // namespace detail

enum class MmaType { kBF16 = 0, kF16 = 1 };

// d = a * b + c over one 16x8x16 tile, registers as PTX's mma.sync.aligned.m16n8k16.row.col.f32.
inline void mma_m16n8k16(MmaType type, float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                         const float (&c)[4], const std::source_location& loc) {
  detail::WarpArgs w{detail::WarpOp::kMma, 0xffffffffu, 0, int(type)};
  for (int j = 0; j < 4; ++j) w.in[j] = a[j];
  for (int j = 0; j < 2; ++j) w.in[4 + j] = b[j];
  for (int i = 0; i < 4; ++i) w.in[6 + i] = detail::to_bits(c[i]);
  uint64_t out[4];
  detail::warp_collective(w, out, loc);
  for (int i = 0; i < 4; ++i) d[i] = detail::from_bits<float>(out[i]);
}

// ldmatrix.sync.aligned.m8n8.xN[.trans].shared.b16: lanes 0..8N-1 pass the address of one 16-byte
// row each (the row is read here, by the lane that names it, so the race checker sees the read).
template <int N>
inline void ldmatrix(uint32_t (&r)[N], const void* row, bool trans, const std::source_location& loc) {
  static_assert(N == 1 || N == 2 || N == 4, "ldmatrix loads 1, 2 or 4 matrices");
  detail::WarpArgs w{detail::WarpOp::kLdmatrix, 0xffffffffu, N, trans ? 1 : 0};
  const uint3 t = detail::t_thread->thread_idx, bd = detail::t_block->block_dim;
  const unsigned lane = (t.x + bd.x * (t.y + bd.y * t.z)) % 32;
  if (lane < 8u * N) {
    if (reinterpret_cast<uintptr_t>(row) % 16 != 0) detail::device_error("ldmatrix: a row address is not 16-byte aligned", loc);
    w.in[0] = reinterpret_cast<uintptr_t>(row);
    std::memcpy(&w.in[1], row, 16);
  }
  uint64_t out[4];
  detail::warp_collective(w, out, loc);
  for (int i = 0; i < N; ++i) r[i] = uint32_t(out[i]);
}

}  // namespace cudasim
