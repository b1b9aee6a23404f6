// tests/kernels_cuda/test_cuda_table.cpp
// The CUDA op table as a whole: every entry set, the switchboard offers it when a GPU is visible,
// and the argument checks fail with clear messages (fp64, host tensors, mixed dtypes). The checks
// run before any CUDA call, so the death tests need no GPU; the rest skip without one.
#include <cstring>

#include "kernels/cuda/ops_cuda.h"
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

TEST(CudaTable, EveryEntryIsSet) {
  // Compiled in whenever this binary exists (it is built only with KILN_WITH_CUDA); no GPU needed.
  const Ops& ops = cuda::kOps;
  EXPECT_STREQ(ops.name, "cuda");
  const auto* begin = reinterpret_cast<const char*>(&ops) + sizeof(const char*);
  const auto* end = reinterpret_cast<const char*>(&ops) + sizeof(Ops);
  int index = 0;
  for (const char* p = begin; p < end; p += sizeof(void*), ++index) {
    void* fn = nullptr;
    std::memcpy(&fn, p, sizeof(void*));
    EXPECT_NE(fn, nullptr) << "entry " << index << " of kernels::cuda::kOps is null";
  }
}

TEST(CudaTable, BackendReadyWhenGpuVisible) {
  KILN_REQUIRE_GPU();
  EXPECT_TRUE(cuda_backend_ready());
  EXPECT_STREQ(ops_for(Device::kCuda).name, "cuda");
}

// A device-flagged tensor whose memory is never touched: the checks fail first.
Tensor fake_device(DType dt, Shape s) {
  static double dummy[8];
  Tensor t;
  t.data = dummy;
  t.dtype = dt;
  t.device = Device::kCuda;
  t.shape = s;
  return t;
}

TEST(CudaTableDeathTest, ArgumentChecksFailClearly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Tensor a64 = fake_device(DType::F64, {4}), b64 = fake_device(DType::F64, {4});
  EXPECT_DEATH(cuda::residual_forward(a64, a64, b64, {}), "fp64 runs only on the CPU backend");
  Tensor host = fake_device(DType::F32, {4});
  host.device = Device::kCpu;
  EXPECT_DEATH(cuda::gelu_forward(fake_device(DType::F32, {4}), host, {}), "in host memory");
  EXPECT_DEATH(cuda::residual_forward(fake_device(DType::F32, {4}), fake_device(DType::F32, {4}),
                                      fake_device(DType::BF16, {4}), {}),
               "activations and weights share one dtype");
  EXPECT_DEATH(cuda::matmul_forward(fake_device(DType::F32, {2, 3}), fake_device(DType::F32, {2, 4}),
                                    fake_device(DType::F32, {3, 5}), Tensor{}, {}),
               "does not take IC=4");
  EXPECT_DEATH(cuda::attention_forward(fake_device(DType::F32, {1, 2, 256}), fake_device(DType::F32, {1, 1, 2}),
                                       fake_device(DType::F32, {1, 2, 768}), 1, 1, {}),
               "exceeds the CUDA kernel's maximum of 128");
}

}  // namespace
}  // namespace kernels::test
