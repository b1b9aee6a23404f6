// kernels/cpu/simd/table_impl.h
// One SIMD level's kernels as a simd::Kernels table (table.h), named KILN_SIMD_NS::kKernels. The
// single body behind kernels/cpu/simd/isa_*.cpp and tests/kernels/simd_w16_on_avx2.cpp, which only
// define KILN_SIMD_NS, KILN_SIMD_WIDTH and KILN_SIMD_ISA (the level the table needs) and include it.
#pragma once

#include "kernels/cpu/simd/elementwise_impl.h"
#include "kernels/cpu/simd/gemm_impl.h"
#include "kernels/cpu/simd/rows_impl.h"
#include "kernels/cpu/simd/tile_gemm_impl.h"

namespace kernels::cpu::simd::KILN_SIMD_NS {

extern const Kernels kKernels;
const Kernels kKernels = {
    .isa = KILN_SIMD_ISA,
    .exp = exp_n,
    .gelu_forward = gelu_forward,
    .gelu_backward = gelu_backward,
    .swiglu_forward = swiglu_forward,
    .swiglu_backward = swiglu_backward,
    .adamw_update = adamw_update,
    .sum_squares = sum_squares,
    .layernorm_forward = layernorm_forward,
    .layernorm_backward = layernorm_backward,
    .softmax_xent = softmax_xent,
    .column_sums_add = column_sums_add,
    .attention_softmax_rows = attention_softmax_rows,
    .attention_backward_rows = attention_backward_rows,
    .tile_gemm = tile_gemm,
    .transpose = transpose,
    .sgemm = sgemm,
};

}  // namespace kernels::cpu::simd::KILN_SIMD_NS
