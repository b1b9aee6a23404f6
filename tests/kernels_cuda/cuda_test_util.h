// tests/kernels_cuda/cuda_test_util.h
// Helpers for the CUDA-vs-CPU kernel tests: host tensors of any float dtype (TypedTensor from the
// CPU tests), their copies in the backend's memory, and the comparison with a stated tolerance.
// Header-only. The same test sources build two binaries that differ only in the backend under
// test (backend_under_test(), defined once per binary):
//   test_kernels_cuda     the CUDA op table on device memory (label cuda); every test starts with
//                         KILN_REQUIRE_GPU(), so it reports Skipped (not Passed) without a GPU;
//   test_kernels_cudasim  the same CUDA sources on the CPU simulator, the `cudasim` table on host
//                         memory (label cudasim, runs everywhere); simulated() tests pick smaller
//                         shapes, never looser tolerances.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/ops.h"
#include "tests/kernels/kernel_test_util.h"

#define KILN_REQUIRE_GPU()                                                          \
  do {                                                                              \
    if (!::kernels::test::backend_under_test().available) GTEST_SKIP() << "no GPU"; \
  } while (0)

namespace kernels::test {

struct BackendUnderTest {
  const char* name;   // "cuda" or "cudasim"
  bool available;     // false: no GPU, every test skips
  bool simulated;     // the CPU simulator: tests choose smaller shapes
  bool race_check;    // the simulator's race-check build (ThreadSanitizer): smaller still
  Device memory;      // where the table's tensors live
  const Ops* ops;     // null when not available
  // The tensor-core fragment checks (kernels/cuda/mma_check.h) of this backend.
  void (*mma_tile_matmul)(Tensor c, Tensor a, Tensor b, bool b_k_major, Stream s);
  void (*mma_chain_matmul)(Tensor d, Tensor a, Tensor b1, Tensor b2, Stream s);
  // The tensor-core attention's grouped-query entry points (kernels/cuda/flash_attention.h).
  void (*attention_gqa_forward)(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s);
  void (*attention_gqa_backward)(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head,
                                 int n_kv_head, Stream s);
};
const BackendUnderTest& backend_under_test();  // backend_cuda.cpp or backend_cudasim.cpp

inline const Ops& gpu_ops() { return *backend_under_test().ops; }
inline bool simulated() { return backend_under_test().simulated; }
// Picks the GPU's shape or the simulator's smaller one.
template <class T>
T full_or_sim(T full, T sim) {
  return simulated() ? sim : full;
}

// Tolerances (norm-relative, rel_err): the brief's 1e-5 for fp32 storage, 1e-2 for bf16/fp16.
// Statistics and fp32 parameter grads are always held to the fp32 bound.
inline double tol_for(DType d) { return d == DType::F32 ? 1e-5 : 1e-2; }

// A copy of a host TypedTensor in the backend's memory (same dtype, shape, bytes).
struct GpuTensor {
  OwnedTensor owned;
  GpuTensor(TypedTensor& host) : owned(mem(), host.dtype, host.shape) {
    Tensor h = host.t();
    device_copy(owned.t.data, mem(), h.data, Device::kCpu, h.nbytes());
  }
  GpuTensor(DType dt, Shape s) : owned(mem(), dt, s) {}
  Tensor t() const { return owned.t; }
  // Back to the host, as doubles (bf16/fp16 widened exactly).
  std::vector<double> get() const {
    TypedTensor h(owned.t.dtype, owned.t.shape);
    device_copy(h.t().data, Device::kCpu, owned.t.data, mem(), owned.t.nbytes());
    return h.get();
  }
  static Device mem() { return backend_under_test().memory; }
};

// int32 tensors (tokens, targets) in the backend's memory.
struct GpuInts {
  OwnedTensor owned;
  explicit GpuInts(const std::vector<int32_t>& v, Shape s) : owned(GpuTensor::mem(), DType::I32, s) {
    device_copy(owned.t.data, GpuTensor::mem(), v.data(), Device::kCpu, v.size() * sizeof(int32_t));
  }
  Tensor t() const { return owned.t; }
};

inline Tensor host_ints(std::vector<int32_t>& v, Shape s) { return view(v, s); }

// Compares and prints the measured error, so the report can quote numbers.
inline void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                         const std::string& what) {
  const double err = rel_err(got, want);
  std::printf("[%s-vs-cpu] %-48s rel_err %.3e (tol %.0e)\n", backend_under_test().name, what.c_str(), err, tol);
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
