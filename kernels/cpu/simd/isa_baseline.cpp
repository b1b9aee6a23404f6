// kernels/cpu/simd/isa_baseline.cpp
// The baseline table of vectorised fp32 kernels (4 floats per vector), compiled with no extra flags (SSE2 is part of
// x86-64) (kernels/CMakeLists.txt) and used only when isa.h finds this CPU runs it. The kernels are the shared ones of
// elementwise_impl.h, rows_impl.h and tile_gemm_impl.h; table_impl.h lists them.
#define KILN_SIMD_NS baseline
#define KILN_SIMD_WIDTH 4
#define KILN_SIMD_ISA Isa::kBaseline
#include "kernels/cpu/simd/table_impl.h"
