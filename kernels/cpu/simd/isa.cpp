// kernels/cpu/simd/isa.cpp
// Run-time choice of the SIMD level (isa.h). Detection uses libgcc's __builtin_cpu_supports, which
// also checks that the OS saves the wide registers (xgetbv), so a level it reports is usable.
#include "kernels/cpu/simd/isa.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "kernels/check.h"

namespace kernels::cpu::simd {

namespace {

constexpr int kUnset = -1;
std::atomic<int> g_active{kUnset};

}  // namespace

Isa parse_isa(const char* value) {
  if (value == nullptr || *value == '\0' || std::string(value) == "auto") return best_isa();
  const std::string v = value;
  for (int i = 0; i < kIsaCount; ++i) {
    const Isa isa = Isa(i);
    if (v != isa_name(isa)) continue;
    KILN_REQUIRE_INPUT(isa_supported(isa), "KILN_CPU_ISA=" + v + ": this CPU does not support " + v +
                                               " (the best it supports is " + isa_name(best_isa()) + ")");
    return isa;
  }
  throw InputError("KILN_CPU_ISA=" + v + ": expected baseline, avx2, avx512 or auto");
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kBaseline: return "baseline";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kBaseline: return true;  // SSE2 is part of x86-64
    case Isa::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return false;
}

Isa best_isa() {
  for (int i = kIsaCount - 1; i > 0; --i)
    if (isa_supported(Isa(i))) return Isa(i);
  return Isa::kBaseline;
}

Isa active_isa() {
  int v = g_active.load(std::memory_order_acquire);
  if (v == kUnset) {
    int expected = kUnset;
    g_active.compare_exchange_strong(expected, int(parse_isa(std::getenv("KILN_CPU_ISA"))));
    v = g_active.load(std::memory_order_acquire);
  }
  return Isa(v);
}

void set_active_isa(Isa isa) {
  KILN_CHECK(isa_supported(isa), std::string("set_active_isa: this CPU does not support ") + isa_name(isa));
  g_active.store(int(isa), std::memory_order_release);
}

}  // namespace kernels::cpu::simd
