// kernels/cpu/simd/isa.h
// Which x86-64 instruction-set level kiln's vectorised CPU kernels use, chosen at run time, so one
// binary runs on any x86-64 and uses AVX2 or AVX-512 where the CPU has them.
//
// Levels: baseline (SSE2, 4 floats per vector, every x86-64 has it), avx2 (AVX2 + FMA, 8 floats),
// avx512 (AVX-512F, 16 floats). The active level is the best this CPU supports unless the
// environment variable KILN_CPU_ISA (baseline | avx2 | avx512 | auto) names another; tests force
// each supported level with set_active_isa(). Results are deterministic for a given level; they
// differ between levels by rounding only (within the bounds stated in simd/exp.h and
// simd/elementwise_impl.h), so bit-identical resume needs the same level (and the same BLAS kernel)
// on both sides: KILN_CPU_ISA pins it.
// Called by the CPU op entry points (through simd/table.h), kiln_bench_cpu and tests.
#pragma once

#include <cstdint>

namespace kernels::cpu::simd {

enum class Isa : uint8_t { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr int kIsaCount = 3;

const char* isa_name(Isa isa);  // "baseline", "avx2", "avx512"
bool isa_supported(Isa isa);    // by this CPU and OS (cpuid + xgetbv through libgcc)
Isa best_isa();                 // the highest supported level
// The level kernels use now: KILN_CPU_ISA if set (InputError naming the variable and value when
// it is unknown or unsupported here), else best_isa(). Read once, on first use.
Isa active_isa();
// Forces a level (tests, benchmarks); the CPU must support it (checked). Not thread-safe against
// kernels running at the same moment: call it between ops.
void set_active_isa(Isa isa);
// What a KILN_CPU_ISA value asks for: "" or "auto" -> best_isa(), a level's name -> that level.
// InputError naming the variable and the value when the name is unknown or the CPU lacks it.
Isa parse_isa(const char* value);

}  // namespace kernels::cpu::simd
