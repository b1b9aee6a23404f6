// kernels/cpu/simd/table.cpp
// Picks the table of the active SIMD level. The three tables are defined in isa_*.cpp, each
// compiled with its own instruction-set flags; this file is compiled for baseline x86-64.
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu::simd {

namespace baseline {
extern const Kernels kKernels;
}
namespace avx2 {
extern const Kernels kKernels;
}
namespace avx512 {
extern const Kernels kKernels;
}

const Kernels& for_isa(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return avx512::kKernels;
    case Isa::kAvx2: return avx2::kKernels;
    case Isa::kBaseline: break;
  }
  return baseline::kKernels;
}

const Kernels& active() { return for_isa(active_isa()); }

}  // namespace kernels::cpu::simd
