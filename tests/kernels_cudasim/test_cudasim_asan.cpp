// tests/kernels_cudasim/test_cudasim_asan.cpp
// Out-of-bounds accesses by simulated threads, caught by the AddressSanitizer build of the simulator
// (test_cudasim_asan): a static __shared__ array overrun, a global (heap) buffer overrun, and a
// dynamic shared memory overrun. Each report is followed by the simulator's line naming the kernel,
// block and thread that made the access.
#include <vector>

#include "tests/kernels_cudasim/sim_test_util.h"

namespace cudasim::test {
namespace {

__global__ void shared_overrun_kernel(float* out) {
  __shared__ float s[32];
  s[threadIdx.x] = float(threadIdx.x);  // the block has 33 threads
  __syncthreads();
  out[threadIdx.x] = s[0];
}

__global__ void global_overrun_kernel(float* out, int n) {
  const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i <= n) out[i] = 1.f;  // off by one: i == n is past the end
}

__global__ void dynamic_overrun_asan_kernel() {
  float* s = static_cast<float*>(::cudasim::detail::dynamic_shared());
  s[threadIdx.x] = 1.f;
}

TEST(CudasimAsanDeathTest, SharedArrayOverrun) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<float> out(33);
  EXPECT_DEATH(launch<shared_overrun_kernel>(1, 33, 0, nullptr, out.data()),
               "global-buffer-overflow(.|\n)*cudasim: kernel shared_overrun_kernel, block \\(0,0,0\\), thread \\(32,0,0\\)");
}

TEST(CudasimAsanDeathTest, GlobalBufferOverrun) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int n = 100;
  std::vector<float> out(size_t(n), 0.f);
  EXPECT_DEATH(launch<global_overrun_kernel>(2, 64, 0, nullptr, out.data(), n),
               "heap-buffer-overflow(.|\n)*cudasim: kernel global_overrun_kernel, block \\(1,0,0\\), thread \\(36,0,0\\)");
}

TEST(CudasimAsanDeathTest, DynamicSharedOverrun) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(launch<dynamic_overrun_asan_kernel>(1, 32, 31 * sizeof(float), nullptr),
               "heap-buffer-overflow(.|\n)*cudasim: kernel dynamic_overrun_asan_kernel, block \\(0,0,0\\), thread \\(31,0,0\\)");
}

}  // namespace
}  // namespace cudasim::test
