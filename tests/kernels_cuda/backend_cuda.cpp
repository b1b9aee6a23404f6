// tests/kernels_cuda/backend_cuda.cpp
// The backend of test_kernels_cuda: the CUDA op table on device memory, available when a GPU is
// visible (cuda_test_util.h).
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/mma_check.h"
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {

const BackendUnderTest& backend_under_test() {
  static const BackendUnderTest b = [] {
    const bool gpu = gpu_count() > 0;
    return BackendUnderTest{"cuda",        gpu,   false, false, Device::kCuda, gpu ? &ops_for(Device::kCuda) : nullptr,
                            &cuda::mma_tile_matmul, &cuda::mma_chain_matmul,
                            &cuda::attention_gqa_forward, &cuda::attention_gqa_backward};
  }();
  return b;
}

}  // namespace kernels::test
