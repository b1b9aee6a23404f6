// kernels/cuda/context.cu
// The per-device / per-stream resources of context.cuh. Allocations go through cuda::alloc
// (device_cuda.cu), so they show up in the backend's memory statistics.
// Called lazily by the ops; nothing to initialise up front. Not here: any kernel.
#include <map>
#include <mutex>
#include <utility>

#include "kernels/cuda/context.cuh"
#include "kernels/cuda/device_cuda.h"

namespace kernels::cuda {

namespace {

int current_device() {
  int dev = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&dev));
  return dev;
}

struct StreamResources {
  void* workspace = nullptr;  // kLtWorkspaceBytes, allocated on first matmul
  void* scratch = nullptr;
  size_t scratch_bytes = 0;
};

// One mutex for the maps: resources are looked up once per op, contention is negligible.
// The maps are never destroyed: their buffers and handles live until the process exits, and stay
// reachable to the end (a destroyed map would leave them unreachable, which LeakSanitizer reports
// as leaks, and an op running during static destruction would find the map gone).
std::mutex g_mutex;
std::map<int, cublasLtHandle_t>& g_handles = *new std::map<int, cublasLtHandle_t>;
std::map<std::pair<int, cudaStream_t>, StreamResources>& g_streams =
    *new std::map<std::pair<int, cudaStream_t>, StreamResources>;

}  // namespace

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
    default:
      return "CUBLAS_STATUS_<unknown>";
  }
}

cublasLtHandle_t lt_handle() {
  const int dev = current_device();
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_handles.find(dev);
  if (it != g_handles.end()) return it->second;
  cublasLtHandle_t h = nullptr;
  KILN_CUBLAS_CHECK(cublasLtCreate(&h));
  g_handles[dev] = h;
  return h;
}

void* lt_workspace(cudaStream_t stream) {
  const int dev = current_device();
  std::lock_guard<std::mutex> lock(g_mutex);
  StreamResources& r = g_streams[{dev, stream}];
  if (r.workspace == nullptr) r.workspace = cuda::alloc(kLtWorkspaceBytes);  // cudaMalloc: 256-byte aligned
  return r.workspace;
}

void* scratch(size_t bytes, cudaStream_t stream) {
  const int dev = current_device();
  std::lock_guard<std::mutex> lock(g_mutex);
  StreamResources& r = g_streams[{dev, stream}];
  if (bytes <= r.scratch_bytes) return r.scratch;
  if (r.scratch != nullptr) {
    // Kernels queued earlier on this stream may still read the old buffer.
    ::kernels::count_backend_synchronize();
    KILN_CUDA_CHECK(cudaDeviceSynchronize());
    cuda::free(r.scratch);
  }
  // Grow by at least 1.5x so a slowly growing sequence of requests does not reallocate each time.
  const size_t want = bytes > r.scratch_bytes + r.scratch_bytes / 2 ? bytes : r.scratch_bytes + r.scratch_bytes / 2;
  r.scratch = cuda::alloc(want);
  r.scratch_bytes = want;
  return r.scratch;
}

int sm_count() {
  static const int count = [] {
    int n = 0;
    KILN_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, current_device()));
    return n > 0 ? n : 1;
  }();
  return count;
}

}  // namespace kernels::cuda
