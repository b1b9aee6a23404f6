// tests/kernels/simd_w16_on_avx2.cpp
// The AVX-512 level's algorithm, run where there is no AVX-512: kernels/cpu/simd's shared source
// compiled at 16 floats per vector (as kernels/cpu/simd/isa_avx512.cpp) but with AVX2 flags, so the
// compiler builds each 16-wide vector from two 8-wide registers. Lane count, tails, masks, the
// 16 x 16 transpose and the fixed reduction order are then the AVX-512 table's exactly; only the
// instruction selection differs. test_simd.cpp runs it as one more level on any AVX2 machine, so
// the width-16 code is tested even where isa_avx512.cpp itself cannot run.
#define KILN_SIMD_NS w16_on_avx2
#define KILN_SIMD_WIDTH 16
#define KILN_SIMD_ISA Isa::kAvx2  // what it needs to run
#include "kernels/cpu/simd/table_impl.h"
