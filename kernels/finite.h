// kernels/finite.h
// Finding NaN and infinities in a tensor, on the host: what the numeric guards use on their rare
// paths (naming the first non-finite tensor of a skipped step, trainer/guards.h), the check before
// a checkpoint is written, and `kiln sample` / `kiln eval` on the weights they load. Not for every
// step: the step's detection is the gradient norm and the loss being finite, which costs nothing.
// Header-only; plain loops (these paths are rare or one-off).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/tensor.h"

namespace kernels {

struct FiniteScan {
  int64_t first_bad = -1;  // index of the first NaN or +-Inf; -1: all finite
  int64_t bad = 0;         // how many
  double max_abs = 0;      // largest magnitude among the finite values
  bool finite() const { return first_bad < 0; }
};

// Scans n elements of `dt` in host memory. Integer dtypes are always finite.
inline FiniteScan scan_finite(const void* data, DType dt, int64_t n) {
  FiniteScan s;
  auto visit = [&](int64_t i, double v, bool is_finite) {
    if (!is_finite) {
      if (s.first_bad < 0) s.first_bad = i;
      ++s.bad;
    } else if (std::fabs(v) > s.max_abs) {
      s.max_abs = std::fabs(v);
    }
  };
  const auto* bytes = static_cast<const unsigned char*>(data);
  switch (dt) {
    case DType::F32:
      for (int64_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, bytes + 4 * i, 4);
        visit(i, v, std::isfinite(v));
      }
      break;
    case DType::F64:
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, bytes + 8 * i, 8);
        visit(i, v, std::isfinite(v));
      }
      break;
    case DType::BF16:
    case DType::F16: {
      // All exponent bits set means Inf or NaN in both formats.
      const uint16_t exp_mask = dt == DType::BF16 ? 0x7F80 : 0x7C00;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, bytes + 2 * i, 2);
        const bool fin = (b & exp_mask) != exp_mask;
        const double v = dt == DType::BF16 ? double(bits_float(uint32_t(b) << 16)) : double(fp16::to_float(b));
        visit(i, fin ? v : 0.0, fin);
      }
      break;
    }
    default:
      break;
  }
  return s;
}

// The same for a tensor on any device (a device tensor is copied to the host first).
inline FiniteScan scan_finite(const Tensor& t) {
  if (t.device == Device::kCpu) return scan_finite(t.data, t.dtype, t.numel());
  std::vector<unsigned char> host(t.nbytes());
  copy_to_host(host.data(), t.data, t.device, t.nbytes());
  return scan_finite(host.data(), t.dtype, t.numel());
}

}  // namespace kernels
