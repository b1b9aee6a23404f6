// kernels/device.cpp
// Switchboard for memory and devices: the one place (with backend.cpp) that knows whether the CUDA
// backend was built. Host memory is 64-byte aligned so BLAS and vector loops get aligned rows.
#include "kernels/device.h"

#include <cstdlib>
#include <cstring>

#include "kernels/check.h"
#if KILN_HAVE_CUDA
#include "kernels/cuda/device_cuda.h"
#endif

namespace kernels {

BuildInfo build_info() {
  BuildInfo b;
#if KILN_HAVE_CUDA
  b.cuda = true;
  b.cuda_version = cuda::runtime_version();
  b.cudnn_version = cuda::cudnn_version();
  b.nccl_version = cuda::nccl_version();
#else
  b.cuda_version = b.cudnn_version = b.nccl_version = "no";
#endif
  return b;
}

int gpu_count() {
#if KILN_HAVE_CUDA
  return cuda::gpu_count();
#else
  return 0;
#endif
}

std::string gpu_name() {
#if KILN_HAVE_CUDA
  return cuda::gpu_count() > 0 ? cuda::device_name() : "";
#else
  return "";
#endif
}

size_t gpu_peak_allocated_bytes() {
#if KILN_HAVE_CUDA
  return cuda::gpu_count() > 0 ? cuda::memory_stats().peak_allocated : 0;
#else
  return 0;
#endif
}

#if !KILN_HAVE_CUDA
namespace {
[[noreturn]] void no_cuda(const char* what) {
  fail(what, "this binary was built without CUDA (configure with -DKILN_WITH_CUDA=ON)", __FILE__, __LINE__);
}
}  // namespace
#endif

void* device_alloc(Device d, size_t bytes) {
  if (d == Device::kCpu) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    KILN_CHECK(p != nullptr, "host allocation of " + std::to_string(bytes) + " bytes failed");
    return p;
  }
#if KILN_HAVE_CUDA
  return cuda::alloc(bytes);
#else
  no_cuda("device_alloc");
#endif
}

void device_free(Device d, void* p) {
  if (d == Device::kCpu) return std::free(p);
#if KILN_HAVE_CUDA
  cuda::free(p);
#else
  no_cuda("device_free");
#endif
}

void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::kCpu && src_dev == Device::kCpu) {
    std::memmove(dst, src, bytes);
    return;
  }
#if KILN_HAVE_CUDA
  cuda::copy(dst, dst_dev == Device::kCuda, src, src_dev == Device::kCuda, bytes);
#else
  no_cuda("device_copy");
#endif
}

void device_memset_zero(void* p, Device d, size_t bytes, Stream s) {
  if (d == Device::kCpu) {
    std::memset(p, 0, bytes);
    return;
  }
#if KILN_HAVE_CUDA
  cuda::memset_zero(p, bytes, s);
#else
  (void)s;
  no_cuda("device_memset_zero");
#endif
}

void device_synchronize(Device d) {
  if (d == Device::kCpu) return;
#if KILN_HAVE_CUDA
  cuda::synchronize();
#else
  no_cuda("device_synchronize");
#endif
}

}  // namespace kernels
