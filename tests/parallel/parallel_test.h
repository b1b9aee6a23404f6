// tests/parallel/parallel_test.h
// Helpers for the collective tests: host tensors filled by a formula of the index, reading any
// dtype back as double, the MPI world, and a scratch folder shared by all ranks of one run.
// Data is predictable (nccl-tests' habit, STYLE E15): every expected value is written down from
// n and r, never computed by another implementation of the same collective.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/tensor.h"
#include "parallel/comm.h"
#include "parallel/comm_mpi.h"
#include "parallel/comm_self.h"

namespace kiln_test {

using kernels::Device;
using kernels::DType;
using kernels::OwnedTensor;
using kernels::Tensor;

inline double read_at(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::F32: return static_cast<const float*>(t.data)[i];
    case DType::F64: return static_cast<const double*>(t.data)[i];
    case DType::BF16: return float(static_cast<const kernels::bf16*>(t.data)[i]);
    case DType::F16: return float(static_cast<const kernels::fp16*>(t.data)[i]);
    case DType::I32: return static_cast<const int32_t*>(t.data)[i];
    case DType::U16: return static_cast<const uint16_t*>(t.data)[i];
    case DType::U32: return static_cast<const uint32_t*>(t.data)[i];
  }
  return 0;
}

inline void write_at(const Tensor& t, int64_t i, double v) {
  switch (t.dtype) {
    case DType::F32: static_cast<float*>(t.data)[i] = float(v); break;
    case DType::F64: static_cast<double*>(t.data)[i] = v; break;
    case DType::BF16: static_cast<kernels::bf16*>(t.data)[i] = kernels::bf16(float(v)); break;
    case DType::F16: static_cast<kernels::fp16*>(t.data)[i] = kernels::fp16(float(v)); break;
    case DType::I32: static_cast<int32_t*>(t.data)[i] = int32_t(v); break;
    case DType::U16: static_cast<uint16_t*>(t.data)[i] = uint16_t(v); break;
    case DType::U32: static_cast<uint32_t*>(t.data)[i] = uint32_t(v); break;
  }
}

// A host tensor of n elements, element i = f(i) rounded to the dtype.
inline OwnedTensor filled(DType dt, int64_t n, const std::function<double(int64_t)>& f) {
  OwnedTensor o(Device::kCpu, dt, kernels::Shape{n});
  for (int64_t i = 0; i < n; ++i) write_at(o.t, i, f(i));
  return o;
}

// Expects t[i] == want(i) for all i; reports the first few mismatches only. The values used in
// these tests are small integers or halves, exact in every dtype, so equality is the right test.
inline void expect_values(const Tensor& t, const std::function<double(int64_t)>& want, const std::string& what) {
  int bad = 0;
  for (int64_t i = 0; i < t.numel() && bad < 5; ++i) {
    const double got = read_at(t, i), w = want(i);
    if (got != w) {
      ++bad;
      ADD_FAILURE() << what << " (" << kernels::dtype_name(t.dtype) << "): element " << i << " is " << got
                    << ", expected " << w;
    }
  }
}

// Device copies of host tensors, for the GPU tests (which skip without a GPU).
inline OwnedTensor to_device(const Tensor& h) {
  OwnedTensor d(Device::kCuda, h.dtype, h.shape);
  kernels::device_copy(d.t.data, Device::kCuda, h.data, Device::kCpu, h.nbytes());
  return d;
}
inline OwnedTensor to_host(const Tensor& d) {
  kernels::device_synchronize(Device::kCuda);
  OwnedTensor h(Device::kCpu, d.dtype, d.shape);
  kernels::device_copy(h.t.data, Device::kCpu, d.data, Device::kCuda, d.nbytes());
  return h;
}

// The world of this mpirun (MPI_COMM_WORLD; the test main initialised MPI).
inline std::unique_ptr<parallel::Comm> mpi_world() { return parallel::MpiComm::world(); }

// $KILN_TEST_TMP/parallel/<name>_np<n>: one folder per test and world size (ctest may run the
// np1..np4 tests at once). Rank 0 empties it; call it on every rank, then barrier before use.
inline std::filesystem::path shared_dir(const std::string& name, parallel::Comm& world) {
  const char* env = std::getenv("KILN_TEST_TMP");
  const std::filesystem::path root =
      (env != nullptr && *env != '\0') ? std::filesystem::path(env) : std::filesystem::temp_directory_path() / "kiln_test";
  const std::filesystem::path dir = root / "parallel" / (name + "_np" + std::to_string(world.size()));
  if (world.rank() == 0) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  world.barrier();
  return dir;
}

}  // namespace kiln_test
