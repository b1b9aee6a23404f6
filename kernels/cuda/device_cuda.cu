// kernels/cuda/device_cuda.cu
// CUDA memory, copies, version queries, memory statistics and the event timer behind
// kernels/cuda/device_cuda.h. Called through the plugin table (plugin.cu), the ops' context
// (context.cu) and benchmarks. Not here: kernels, cuBLASLt.
// Without a driver, cudaGetDeviceCount returns cudaErrorInsufficientDriver (35), not "no device":
// gpu_count() treats any error as zero GPUs and clears it, so CPU-only machines fall back cleanly.
#include <cudnn.h>
#include <nccl.h>

#include <mutex>
#include <unordered_map>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_cuda.h"
#include "kernels/device.h"

namespace kernels::cuda {

namespace {
// Sizes of live allocations, for memory_stats(). Buffers are allocated at model build time, so
// the lock is not on any hot path.
std::mutex g_mem_mutex;
std::unordered_map<void*, size_t> g_live;
size_t g_allocated = 0, g_peak = 0;
}  // namespace

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
  ::kernels::count_backend_alloc();
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  g_live[p] = bytes;
  g_allocated += bytes;
  if (g_allocated > g_peak) g_peak = g_allocated;
  return p;
}

void free(void* p) {
  if (p == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(g_mem_mutex);
    auto it = g_live.find(p);
    if (it != g_live.end()) {
      g_allocated -= it->second;
      g_live.erase(it);
    }
  }
  ::kernels::count_backend_free();
  KILN_CUDA_CHECK(cudaFree(p));
}

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes) {
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  KILN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

void memset_zero(void* p, size_t bytes, Stream s) { KILN_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_stream(s))); }

// Counted by the caller, kernels::device_synchronize.
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

MemoryStats memory_stats() {
  MemoryStats m;
  {
    std::lock_guard<std::mutex> lock(g_mem_mutex);
    m.allocated = g_allocated;
    m.peak_allocated = g_peak;
  }
  size_t free_b = 0, total_b = 0;
  KILN_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  m.device_used = total_b - free_b;
  m.device_total = total_b;
  return m;
}

void reset_peak_memory() {
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  g_peak = g_allocated;
}

std::string device_name() {
  int dev = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  return prop.name;
}

EventTimer::EventTimer() {
  cudaEvent_t a = nullptr, b = nullptr;
  KILN_CUDA_CHECK(cudaEventCreate(&a));
  KILN_CUDA_CHECK(cudaEventCreate(&b));
  start_ = a;
  stop_ = b;
}

EventTimer::~EventTimer() {
  // Destructors must not abort: errors here (e.g. at process teardown) are ignored.
  (void)cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  (void)cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}

void EventTimer::start(Stream s) { KILN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_), cuda_stream(s))); }
void EventTimer::stop(Stream s) { KILN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_), cuda_stream(s))); }

float EventTimer::elapsed_ms() const {
  KILN_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
  float ms = 0.f;
  KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
  return ms;
}

}  // namespace kernels::cuda
