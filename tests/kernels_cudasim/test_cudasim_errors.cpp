// tests/kernels_cudasim/test_cudasim_errors.cpp
// What the simulator reports, and that every report names the kernel, the block and the thread:
// a __syncthreads not reached by every thread (an early exit, two different barriers), warp
// collectives whose mask leaves out the caller, names a lane that does not exist, has exited or
// waits at a barrier, a shuffle reading a lane outside its mask, lanes in different collectives,
// __trap(), writing past dynamic shared memory. A configuration the GPU would refuse runs nothing
// and sets cudaGetLastError. The launch trace (KILN_CUDASIM_TRACE) lists each launch.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/kernels_cudasim/sim_test_util.h"

namespace cudasim::test {
namespace {

__global__ void early_exit_kernel(int* out) {
  if (threadIdx.x < 16) return;  // a bounds check placed before the barrier
  __syncthreads();
  out[threadIdx.x] = 1;
}

TEST(CudasimErrors, SyncthreadsAfterAnEarlyExit) {
  std::vector<int> out(64);
  expect_sim_error([&] { launch<early_exit_kernel>(dim3(2), dim3(64), 0, nullptr, out.data()); },
                   {"kernel early_exit_kernel", "block (0,0,0)", "thread (16,0,0)", "__syncthreads at",
                    "test_cudasim_errors.cpp:", "thread (0,0,0) of this block has already exited"});
}

__global__ void exit_while_others_wait_kernel(int* out) {
  if (threadIdx.x == 40) {
    out[0] = 1;
    return;
  }
  __syncthreads();
}

TEST(CudasimErrors, ThreadExitsWhileOthersWaitAtABarrier) {
  int out = 0;
  expect_sim_error([&] { launch<exit_while_others_wait_kernel>(1, 64, 0, nullptr, &out); },
                   {"exit_while_others_wait_kernel", "thread (40,0,0)", "exited without reaching the __syncthreads",
                    "40 thread(s) of the block wait"});
}

__global__ void two_barriers_kernel() {
  if (threadIdx.x % 2)
    __syncthreads();
  else
    __syncthreads();
}

TEST(CudasimErrors, ThreadsAtDifferentBarriers) {
  expect_sim_error([] { launch<two_barriers_kernel>(1, 32, 0, nullptr); },
                   {"two_barriers_kernel", "block (0,0,0)", "thread (1,0,0)", "must reach the same barrier"});
}

__global__ void shuffle_after_exit_kernel(float* out) {
  if (threadIdx.x >= 24) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, 1);  // lanes 24..31 are gone
}

__global__ void shuffle_after_low_lanes_exit_kernel(float* out) {
  if (threadIdx.x < 8) return;  // lanes 0..7 are gone before the others shuffle
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, 1);
}

TEST(CudasimErrors, MaskNamesAnExitedLane) {
  std::vector<float> out(32);
  // The lane exits while others wait for it: the exiting thread is named.
  expect_sim_error([&] { launch<shuffle_after_exit_kernel>(1, 32, 0, nullptr, out.data()); },
                   {"shuffle_after_exit_kernel", "block (0,0,0)", "thread (24,0,0)",
                    "exited, but its lane 24 is named in the mask 0xffffffff", "__shfl_xor_sync"});
  // The lane has exited before the collective starts: the arriving thread is named.
  expect_sim_error([&] { launch<shuffle_after_low_lanes_exit_kernel>(1, 32, 0, nullptr, out.data()); },
                   {"shuffle_after_low_lanes_exit_kernel", "thread (8,0,0)", "__shfl_xor_sync at",
                    "names lane 0 (thread (0,0,0)), which has exited"});
}

__global__ void mask_without_self_kernel(int* out) { out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1, 0); }

TEST(CudasimErrors, MaskWithoutTheCallingLane) {
  std::vector<int> out(32);
  expect_sim_error([&] { launch<mask_without_self_kernel>(1, 32, 0, nullptr, out.data()); },
                   {"mask_without_self_kernel", "thread (16,0,0)", "does not include the calling lane 16"});
}

__global__ void full_mask_partial_warp_kernel(int* out) {
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, int(threadIdx.x), 1);
}

TEST(CudasimErrors, MaskNamesALaneThatDoesNotExist) {
  std::vector<int> out(20);
  expect_sim_error([&] { launch<full_mask_partial_warp_kernel>(1, 20, 0, nullptr, out.data()); },
                   {"full_mask_partial_warp_kernel", "thread (0,0,0)", "names lane 20, which does not exist",
                    "the block has 20 threads"});
}

__global__ void read_outside_mask_kernel(int* out) {
  if (threadIdx.x < 8) out[threadIdx.x] = __shfl_sync(0x000000ffu, int(threadIdx.x), 9);
}

TEST(CudasimErrors, ShuffleReadsALaneOutsideItsMask) {
  std::vector<int> out(32);
  expect_sim_error([&] { launch<read_outside_mask_kernel>(1, 32, 0, nullptr, out.data()); },
                   {"read_outside_mask_kernel", "__shfl_sync", "reads lane 9, which is not in the mask 0x000000ff"});
}

__global__ void mismatched_collectives_kernel(int* out) {
  if (threadIdx.x % 2)
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
  else
    out[threadIdx.x] = int(__ballot_sync(0xffffffffu, 1));
}

TEST(CudasimErrors, LanesInDifferentCollectives) {
  std::vector<int> out(32);
  expect_sim_error([&] { launch<mismatched_collectives_kernel>(1, 32, 0, nullptr, out.data()); },
                   {"mismatched_collectives_kernel", "__ballot_sync", "__shfl_xor_sync",
                    "the lanes of a mask must run the same collective"});
}

__global__ void shuffle_vs_barrier_kernel(int* out) {
  if (threadIdx.x == 3) __syncthreads();  // lane 3 never reaches the shuffle its warp waits in
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 2);
}

TEST(CudasimErrors, LaneAtABarrierWhileItsWarpShuffles) {
  std::vector<int> out(64);
  expect_sim_error([&] { launch<shuffle_vs_barrier_kernel>(1, 64, 0, nullptr, out.data()); },
                   {"shuffle_vs_barrier_kernel", "block (0,0,0)", "thread (3,0,0)", "__syncthreads at",
                    "wait for it in the __shfl_xor_sync"});
}

__global__ void trap_kernel(const int* tokens) {
  if (tokens[blockIdx.x * blockDim.x + threadIdx.x] < 0) __trap();
}

TEST(CudasimErrors, TrapEndsTheLaunch) {
  std::vector<int> tokens(64, 1);
  tokens[37] = -5;
  expect_sim_error([&] { launch<trap_kernel>(2, 32, 0, nullptr, tokens.data()); },
                   {"trap_kernel", "block (1,0,0)", "thread (5,0,0)", "__trap()"});
}

__global__ void dynamic_overrun_kernel() {
  float* s = static_cast<float*>(::cudasim::detail::dynamic_shared());
  s[threadIdx.x] = 1.f;  // the launch gave 31 floats to 32 threads
}

TEST(CudasimErrors, WritePastDynamicSharedMemory) {
  expect_sim_error([] { launch<dynamic_overrun_kernel>(1, 32, 31 * sizeof(float), nullptr); },
                   {"dynamic_overrun_kernel", "thread (31,0,0)", "wrote past the end of the 124 bytes of dynamic shared memory"});
}

__global__ void count_kernel(int* n) { atomicAdd(n, 1); }
__global__ void noop_kernel() {}

TEST(CudasimErrors, ConfigurationsTheGpuRefusesRunNothing) {
  int n = 0;
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  launch<count_kernel>(1, 1025, 0, nullptr, &n);  // more than 1024 threads
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "cudaGetLastError resets";
  launch<count_kernel>(dim3(1, 65536), 32, 0, nullptr, &n);  // grid.y limit
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  launch<count_kernel>(1, 32, 49 * 1024, nullptr, &n);  // more than 48 KiB of dynamic shared memory
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  launch<count_kernel>(0, 32, 0, nullptr, &n);  // an empty grid
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(n, 0);
  launch<count_kernel>(dim3(2, 3), dim3(4, 2, 2), 0, nullptr, &n);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(n, 96);
}

// The trace file is opened at the first launch of a process: a fresh process (a death-test child)
// sets KILN_CUDASIM_TRACE, launches twice and exits; the parent reads what it wrote.
TEST(CudasimTraceDeathTest, OneLinePerLaunch) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // One name for parent and child (the child runs this test body again in a new process).
  const std::string dir = std::getenv("KILN_TEST_TMP") ? std::getenv("KILN_TEST_TMP") : "/tmp";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/cudasim_trace_test.txt";
  std::remove(path.c_str());
  EXPECT_EXIT(
      {
        setenv("KILN_CUDASIM_TRACE", path.c_str(), 1);
        set_trace_context("Suite.Case");
        int n = 0;
        launch<count_kernel>(dim3(2, 3), dim3(4, 2, 2), 0, nullptr, &n);
        set_trace_context("");
        launch<noop_kernel>(1, 32, 256, nullptr);
        std::exit(n == 96 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  std::ifstream f(path);
  std::stringstream all;
  all << f.rdbuf();
  EXPECT_EQ(all.str(),
            "count_kernel grid=(2,3,1) block=(4,2,2) shared=0 test=Suite.Case\n"
            "noop_kernel grid=(1,1,1) block=(32,1,1) shared=256\n");
  std::remove(path.c_str());
}

TEST(CudasimNames, KernelNamesAsInTheSource) {
  EXPECT_EQ(detail::kernel_display_name("const char* cudasim::detail::kernel_name() [with auto Kernel = "
                                        "kernels::cudasim::{anonymous}::layernorm_forward_kernel<float>]"),
            "layernorm_forward_kernel<float>");
  EXPECT_EQ(detail::kernel_display_name(
                "const char* cudasim::detail::kernel_name() [with auto Kernel = kernels::cudasim::colsum_partial_kernel<"
                "kernels::cudasim::{anonymous}::LayernormParamGradTerms<cudasim::api::__nv_bfloat16> >]"),
            "colsum_partial_kernel<LayernormParamGradTerms<__nv_bfloat16> >");
}

}  // namespace
}  // namespace cudasim::test
