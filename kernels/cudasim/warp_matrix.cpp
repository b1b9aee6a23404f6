// kernels/cudasim/warp_matrix.cpp
// The arithmetic of the simulator's mma.sync.m16n8k16 and ldmatrix (warp_matrix.h): once every lane
// of the warp has arrived (scheduler.cpp), their registers are unpacked into matrices by the PTX
// ISA's fragment tables, multiplied or transposed, and packed back into each lane's results.
#include <cstdint>

#include "kernels/cudasim/warp_matrix.h"
#include "kernels/dtype.h"

namespace cudasim::detail {

// The PTX fragment layouts, element by element:
// A (16x16, row): register j of lane l holds A[l/4 + 8*(j%2)][2*(l%4) + 8*(j/2) + {0,1}]
// B (16x8, col):  register j holds B[2*(l%4) + 8*j + {0,1}][l/4]
// C, D (16x8 f32): element i holds C[l/4 + 8*(i/2)][2*(l%4) + i%2]
// Each 32-bit register holds two 16-bit elements, the first in its low half.

namespace {

float half_to_float(uint32_t bits16, int kind) {
  return kind == 0 ? kernels::bits_float(bits16 << 16) : kernels::fp16::to_float(uint16_t(bits16));
}

}  // namespace

void complete_mma(const WarpArgs* const (&lanes)[32], uint64_t* const (&out)[32]) {
  const int kind = lanes[0]->width;
  float A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    const WarpArgs& a = *lanes[l];
    const int g = l / 4, t = l % 4;
    for (int j = 0; j < 4; ++j)
      for (int h = 0; h < 2; ++h)
        A[g + 8 * (j % 2)][2 * t + 8 * (j / 2) + h] = half_to_float(uint32_t(a.in[j] >> (16 * h)) & 0xffffu, kind);
    for (int j = 0; j < 2; ++j)
      for (int h = 0; h < 2; ++h)
        B[2 * t + 8 * j + h][g] = half_to_float(uint32_t(a.in[4 + j] >> (16 * h)) & 0xffffu, kind);
    for (int i = 0; i < 4; ++i) C[g + 8 * (i / 2)][2 * t + i % 2] = kernels::bits_float(uint32_t(a.in[6 + i]));
  }
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
      float acc = C[row][col];
      for (int k = 0; k < 16; ++k) acc += A[row][k] * B[k][col];
      out[l][i] = kernels::float_bits(acc);
    }
  }
}

// ldmatrix .x1/.x2/.x4: lanes 8i..8i+7 give the rows of matrix i (8 x 16-bit each, read by the
// lane itself into in[1..2]); lane l receives, in register i, matrix i's elements
// [l/4][2*(l%4) + {0,1}], or with .trans [2*(l%4) + {0,1}][l/4].
void complete_ldmatrix(const WarpArgs* const (&lanes)[32], uint64_t* const (&out)[32]) {
  const int n = lanes[0]->arg;
  const bool trans = lanes[0]->width != 0;
  uint16_t M[4][8][8];
  for (int l = 0; l < 8 * n; ++l) {
    const WarpArgs& a = *lanes[l];
    for (int c = 0; c < 8; ++c) M[l / 8][l % 8][c] = uint16_t(a.in[1 + c / 4] >> (16 * (c % 4)));
  }
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < n; ++i) {
      const int p = l / 4, q = 2 * (l % 4);
      const uint16_t lo = trans ? M[i][q][p] : M[i][p][q], hi = trans ? M[i][q + 1][p] : M[i][p][q + 1];
      out[l][i] = uint32_t(lo) | uint32_t(hi) << 16;
    }
}

}  // namespace cudasim::detail
