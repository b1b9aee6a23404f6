// tests/kernels_cudasim/race_demo.cpp
// cudasim_race_demo racy|clean: a block-wide reduction through shared memory, with (clean) or
// without (racy) the __syncthreads between writing the partial sums and reading them. Linked with
// the race-check build of the simulator (kiln_cudasim_racecheck): ctest expects ThreadSanitizer to
// report the racy run, naming the simulated threads, and the clean run to exit 0.
#include <cstdio>
#include <cstring>
#include <vector>

#include "kernels/cudasim/cuda_spellings.h"

namespace {

using namespace cudasim::api;  // CUDA's names (kernels/cuda gets them through compat.cuh)

template <bool WithBarrier>
__global__ void block_sum_kernel(const float* x, float* out) {
  __shared__ float partial[64];
  const int t = int(threadIdx.x);
  partial[t] = x[blockIdx.x * blockDim.x + t];
  if (WithBarrier) __syncthreads();
  if (t == 0) {
    float s = 0.f;
    for (int i = 0; i < int(blockDim.x); ++i) s += partial[i];  // reads the other threads' writes
    out[blockIdx.x] = s;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool racy = argc > 1 && std::strcmp(argv[1], "racy") == 0;
  std::vector<float> x(128, 1.f), out(2, 0.f);
  if (racy)
    cudasim::launch<block_sum_kernel<false>>(2, 64, 0, nullptr, x.data(), out.data());
  else
    cudasim::launch<block_sum_kernel<true>>(2, 64, 0, nullptr, x.data(), out.data());
  std::printf("block sums %g %g\n", out[0], out[1]);
  return 0;
}
