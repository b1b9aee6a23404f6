// kernels/cpu/simd/isa_avx512.cpp
// The avx512 table of vectorised fp32 kernels (16 floats per vector), compiled with -mavx512f -mavx2 -mfma
// (kernels/CMakeLists.txt) and used only when isa.h finds this CPU runs it. The kernels are the
// shared ones of elementwise_impl.h, rows_impl.h and tile_gemm_impl.h; table_impl.h lists them.
#define KILN_SIMD_NS avx512
#define KILN_SIMD_WIDTH 16
#define KILN_SIMD_ISA Isa::kAvx512
#include "kernels/cpu/simd/table_impl.h"
