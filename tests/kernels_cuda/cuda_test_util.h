// tests/kernels_cuda/cuda_test_util.h
// Helpers for the CUDA-vs-CPU kernel tests: host tensors of any float dtype (TypedTensor from the
// CPU tests), their device copies, and the comparison with a stated tolerance. Header-only; used
// only by the test_kernels_cuda binary. Every test starts with KILN_REQUIRE_GPU(), so the binary
// reports Skipped (not Passed) on machines without a GPU.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/ops.h"
#include "tests/kernels/kernel_test_util.h"

#define KILN_REQUIRE_GPU()                                     \
  do {                                                         \
    if (::kernels::gpu_count() == 0) GTEST_SKIP() << "no GPU"; \
  } while (0)

namespace kernels::test {

inline const Ops& gpu_ops() { return ops_for(Device::kCuda); }

// Tolerances (norm-relative, rel_err): the brief's 1e-5 for fp32 storage, 1e-2 for bf16/fp16.
// Statistics and fp32 parameter grads are always held to the fp32 bound.
inline double tol_for(DType d) { return d == DType::F32 ? 1e-5 : 1e-2; }

// A device copy of a host TypedTensor (same dtype, shape, bytes).
struct GpuTensor {
  OwnedTensor owned;
  GpuTensor(TypedTensor& host) : owned(Device::kCuda, host.dtype, host.shape) {
    Tensor h = host.t();
    device_copy(owned.t.data, Device::kCuda, h.data, Device::kCpu, h.nbytes());
  }
  GpuTensor(DType dt, Shape s) : owned(Device::kCuda, dt, s) {}
  Tensor t() const { return owned.t; }
  // Back to the host, as doubles (bf16/fp16 widened exactly).
  std::vector<double> get() const {
    TypedTensor h(owned.t.dtype, owned.t.shape);
    device_copy(h.t().data, Device::kCpu, owned.t.data, Device::kCuda, owned.t.nbytes());
    return h.get();
  }
};

// int32 tensors (tokens, targets) on the device.
struct GpuInts {
  OwnedTensor owned;
  explicit GpuInts(const std::vector<int32_t>& v, Shape s) : owned(Device::kCuda, DType::I32, s) {
    device_copy(owned.t.data, Device::kCuda, v.data(), Device::kCpu, v.size() * sizeof(int32_t));
  }
  Tensor t() const { return owned.t; }
};

inline Tensor host_ints(std::vector<int32_t>& v, Shape s) { return view(v, s); }

// Compares and prints the measured error, so the report can quote numbers.
inline void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                         const std::string& what) {
  const double err = rel_err(got, want);
  std::printf("[cuda-vs-cpu] %-48s rel_err %.3e (tol %.0e)\n", what.c_str(), err, tol);
  EXPECT_LE(err, tol) << what;
  EXPECT_TRUE(std::isfinite(err)) << what;
}

// printf-style std::string (also sidesteps GCC 12's -Wrestrict false positive on "lit" + string).
template <class... A>
std::string fmt(const char* f, A... a) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), f, a...);
  return buf;
}

inline std::string label(const char* op, DType dt, const std::string& shape) {
  return fmt("%s %s %s", op, dtype_name(dt), shape.c_str());
}

}  // namespace kernels::test
