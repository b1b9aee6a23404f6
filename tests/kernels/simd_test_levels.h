// tests/kernels/simd_test_levels.h
// What test_simd.cpp and test_simd_products.cpp share: the SIMD levels to run (each table of
// kernels/cpu/simd, and w16_on_avx2: the avx512 table's source compiled for AVX2,
// simd_w16_on_avx2.cpp), a fixture that skips a level the CPU cannot run (reported as skipped, not
// passed), and Worst, which tracks err / allowed over a run and prints the worst for the report.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/cpu/simd/isa.h"
#include "kernels/cpu/simd/table.h"
#include "tests/kernels/kernel_test_util.h"

namespace kernels::cpu::simd::w16_on_avx2 {
extern const Kernels kKernels;
}

namespace kernels::test {

namespace simd = cpu::simd;

struct Level {
  const char* name;
  const simd::Kernels* table;
  simd::Isa needs;  // what the CPU must support to run it
};

inline const Level kLevels[] = {
    {"baseline", &simd::for_isa(simd::Isa::kBaseline), simd::Isa::kBaseline},
    {"avx2", &simd::for_isa(simd::Isa::kAvx2), simd::Isa::kAvx2},
    {"avx512", &simd::for_isa(simd::Isa::kAvx512), simd::Isa::kAvx512},
    {"w16_on_avx2", &simd::w16_on_avx2::kKernels, simd::Isa::kAvx2},
};

class SimdLevel : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    level_ = kLevels[GetParam()];
    if (!simd::isa_supported(level_.needs))
      GTEST_SKIP() << "this CPU does not run " << simd::isa_name(level_.needs) << ": level " << level_.name
                   << " not tested here";
  }
  const simd::Kernels& K() const { return *level_.table; }
  Level level_{};
};

inline std::string level_name(const ::testing::TestParamInfo<int>& info) { return kLevels[info.param].name; }

// Worst ratio err / allowed over a run, with the element that produced it, printed for the report.
struct Worst {
  const char* what;
  double ratio = 0, err = 0, at = 0;
  void add(double err_i, double allowed_i, double at_i) {
    const double r = allowed_i > 0 ? err_i / allowed_i : (err_i > 0 ? INFINITY : 0);
    if (!(r <= ratio)) {  // NaN counts as worst
      ratio = r;
      err = err_i;
      at = at_i;
    }
  }
  void check(const std::string& level) const {
    std::printf("[simd %-11s] %-28s worst error %.3e at %.6g (%.2f of its bound)\n", level.c_str(), what, err, at,
                ratio);
    EXPECT_LE(ratio, 1.0) << what << ": error " << err << " at " << at << " exceeds its bound";
  }
};

inline std::vector<float> floats(int64_t n, float fill = 0.f) { return std::vector<float>(size_t(n), fill); }
inline std::vector<double> doubles(int64_t n) { return std::vector<double>(size_t(n), 0.0); }
inline std::vector<int32_t> ints(int64_t n) { return std::vector<int32_t>(size_t(n), 0); }

// n values in [lo, hi], evenly spaced, as float.
inline std::vector<float> sweep(double lo, double hi, int64_t n) {
  std::vector<float> v = floats(n);
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(lo + (hi - lo) * double(i) / double(n - 1));
  return v;
}

}  // namespace kernels::test
