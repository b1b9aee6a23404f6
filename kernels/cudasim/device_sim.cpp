// kernels/cudasim/device_sim.cpp
// The two pieces of kernels/cuda/device_cuda.h that the simulated op files use (context.cu's
// scratch and cuBLASLt workspace): device memory is host memory, 256-byte aligned like cudaMalloc.
// Compiled with the rest of kiln_cudasim, where kernels::cuda is spelled kernels::cudasim
// (kernels/cudasim/CMakeLists.txt). Not here: device_cuda.cu's version and statistics queries
// (the simulator is not a GPU: gpu_count() stays the real one's business).
#include <cstdlib>

#include "kernels/check.h"
#include "kernels/cuda/device_cuda.h"
#include "kernels/device.h"

namespace kernels::cudasim {

void* alloc(size_t bytes) {
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + (bytes == 0 ? 256 : 0));
  KILN_CHECK(p != nullptr, "cudasim: host allocation of " + std::to_string(bytes) + " bytes (device memory) failed");
  ::kernels::count_backend_alloc();  // counted as device_cuda.cu counts cudaMalloc
  return p;
}

void free(void* p) {
  if (p != nullptr) ::kernels::count_backend_free();
  std::free(p);
}

}  // namespace kernels::cudasim
