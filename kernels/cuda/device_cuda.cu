// kernels/cuda/device_cuda.cu
// CUDA memory, copies and version queries behind kernels/device.h. Called by kernels/device.cpp.
// Without a driver, cudaGetDeviceCount returns cudaErrorInsufficientDriver (35), not "no device":
// gpu_count() treats any error as zero GPUs and clears it, so CPU-only machines fall back cleanly.
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>

#include "kernels/check.h"
#include "kernels/cuda/device_cuda.h"

#define KILN_CUDA_CHECK(call)                                                           \
  do {                                                                                  \
    cudaError_t e_ = (call);                                                            \
    if (e_ != cudaSuccess) ::kernels::fail(#call, cudaGetErrorString(e_), __FILE__, __LINE__); \
  } while (0)

namespace kernels::cuda {

int gpu_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
}

void* alloc(size_t bytes) {
  void* p = nullptr;
  KILN_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void free(void* p) { KILN_CUDA_CHECK(cudaFree(p)); }

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes) {
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  KILN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

void memset_zero(void* p, size_t bytes, Stream s) {
  KILN_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, static_cast<cudaStream_t>(s.handle)));
}

void synchronize() { KILN_CUDA_CHECK(cudaDeviceSynchronize()); }

std::string runtime_version() {
  const int v = CUDART_VERSION;  // compiled-against runtime (static cudart is part of the binary)
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string cudnn_version() {
  const size_t v = cudnnGetVersion();  // e.g. 91900
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
}

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "unknown";
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
}

}  // namespace kernels::cuda
