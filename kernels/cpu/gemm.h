// kernels/cpu/gemm.h
// Which code computes an fp32 matrix product (gemm() in matmul.h, implemented in gemm.cpp): kiln's
// own (simd/gemm_impl.h) or OpenBLAS's sgemm. fp64 products always go to OpenBLAS's dgemm.
//
// The choice, measured (bench numbers in docs/CPU.md):
//  - avx512 level: kiln's. Debian's OpenBLAS 0.3.21 runs 256-bit kernels on AVX-512 CPUs, so a
//    512-bit register tile has up to twice its arithmetic throughput there.
//  - avx2 level: kiln's for K <= 512 (the demo model's forward and input-gradient products: ~10%
//    faster than OpenBLAS on a Zen 3 core, 92-99 against 82-89 GFLOP/s, it reads A in place and
//    skips zeroing C), OpenBLAS above: the demo's K = 2048 weight gradients (~5% faster there:
//    both their operands are packed, and OpenBLAS packs faster) and GPT-2 124M's K >= 768 (~2%).
//  - baseline level: OpenBLAS (its kernels follow the CPU; kiln's baseline tile has no FMA).
// KILN_CPU_GEMM=kiln | blas | auto (the default) overrides it, for comparisons on other machines.
// The choice depends only on the level and K, so a run's numbers are deterministic.
#pragma once

#include <cstdint>

namespace kernels::cpu {

enum class GemmChoice : uint8_t { kAuto, kKiln, kBlas };

// What a KILN_CPU_GEMM value asks for ("" -> auto); InputError naming the variable otherwise.
GemmChoice parse_gemm_choice(const char* value);
// Whether an fp32 product with this K runs kiln's sgemm under the active SIMD level and KILN_CPU_GEMM.
bool fp32_gemm_is_kilns(int64_t K);

}  // namespace kernels::cpu
