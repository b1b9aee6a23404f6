// kernels/device.cpp
// Switchboard for memory and devices: the one place (with backend.cpp) that knows whether the CUDA
// backend was built. Host memory is 64-byte aligned so BLAS and vector loops get aligned rows.
//
// The CUDA backend is a plugin (kernels/cuda_plugin.h), loaded by the first call that needs a GPU
// (device memory, a device name). gpu_count() asks the driver directly until then, so `kiln
// --version` and every CPU-only command start without loading the CUDA runtime or its libraries.
// The versions build_info() reports are the ones this build was compiled against (headers only).
#include "kernels/device.h"

#include <atomic>
#include <thread>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kernels/check.h"
#if KILN_HAVE_CUDA
#include <cuda_runtime_api.h>  // CUDART_VERSION
#include <cudnn_version.h>     // CUDNN_MAJOR, ...
#include <nccl.h>              // NCCL_MAJOR, ...

#include "kernels/cuda_plugin.h"
#endif

namespace kernels {

BuildInfo build_info() {
  BuildInfo b;
#if KILN_HAVE_CUDA
  const auto v3 = [](int a, int b, int c) {
    return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c);
  };
  b.cuda = true;
  b.cuda_version = std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10);
  b.cudnn_version = v3(CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL);
  b.nccl_version = v3(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH);
  b.cuda_plugin = cuda_plugin_path();
#else
  b.cuda_version = b.cudnn_version = b.nccl_version = "no";
#endif
  return b;
}

int gpu_count() {
#if KILN_HAVE_CUDA
  // The runtime's answer once it is loaded: it can be 0 where the driver says N (a driver too old
  // for this runtime), and then no GPU is usable.
  return cuda_plugin_loaded() ? cuda_plugin().gpu_count() : cuda_driver_gpu_count();
#else
  return 0;
#endif
}

std::string gpu_name() {
#if KILN_HAVE_CUDA
  return gpu_count() > 0 && cuda_plugin().gpu_count() > 0 ? cuda_plugin().device_name() : "";
#else
  return "";
#endif
}

size_t gpu_peak_allocated_bytes() {
#if KILN_HAVE_CUDA
  // Nothing was allocated on a GPU unless the plugin is loaded; never load it just to say 0.
  return cuda_plugin_loaded() && cuda_plugin().gpu_count() > 0 ? cuda_plugin().peak_allocated_bytes() : 0;
#else
  return 0;
#endif
}

namespace {
std::atomic<uint64_t> g_host_bytes_total{0};

// device_event_counts(): one counter per kind of host-blocking event.
struct EventCounters {
  std::atomic<uint64_t> reads{0}, uploads{0}, synchronizes{0}, allocs{0}, frees{0}, async_uploads{0}, staging_waits{0};
};
EventCounters g_events;
void bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

// "MemAvailable:   12345 kB" -> bytes; 0 when absent.
uint64_t meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kb = 0;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

// Room left under a cgroup v2 limit (a container's memory.max), or 0 when unlimited/unknown.
uint64_t cgroup_room() {
  std::ifstream max_in("/sys/fs/cgroup/memory.max"), cur_in("/sys/fs/cgroup/memory.current");
  std::string max_s;
  uint64_t cur = 0;
  if (!(max_in >> max_s) || max_s == "max" || !(cur_in >> cur)) return 0;
  const uint64_t max = std::strtoull(max_s.c_str(), nullptr, 10);
  return max > cur ? max - cur : 1;  // at the limit: 1 byte, so the check still refuses
}
}  // namespace

uint64_t host_bytes_allocated_total() { return g_host_bytes_total.load(); }

DeviceEventCounts device_event_counts() {
  DeviceEventCounts c;
  c.reads = g_events.reads.load();
  c.uploads = g_events.uploads.load();
  c.synchronizes = g_events.synchronizes.load();
  c.allocs = g_events.allocs.load();
  c.frees = g_events.frees.load();
  c.async_uploads = g_events.async_uploads.load();
  c.staging_waits = g_events.staging_waits.load();
  return c;
}

void reset_device_event_counts() {
  for (std::atomic<uint64_t>* c : {&g_events.reads, &g_events.uploads, &g_events.synchronizes, &g_events.allocs,
                                   &g_events.frees, &g_events.async_uploads, &g_events.staging_waits})
    c->store(0);
}

void count_backend_alloc() { bump(g_events.allocs); }
void count_backend_free() { bump(g_events.frees); }
void count_backend_synchronize() { bump(g_events.synchronizes); }

AvailableMemory available_memory(Device d) {
  AvailableMemory a;
  if (d == Device::kCpu) {
    if ((a.bytes = meminfo_available()) > 0) a.source = "MemAvailable";
    if (const uint64_t room = cgroup_room(); room > 0 && (a.bytes == 0 || room < a.bytes)) {
      a.bytes = room;
      a.source = "cgroup memory.max";
    }
    return a;
  }
#if KILN_HAVE_CUDA
  if (gpu_count() > 0 && cuda_plugin().gpu_count() > 0) {
    a.bytes = cuda_plugin().device_free_bytes();
    a.source = "cudaMemGetInfo";
  }
#endif
  return a;
}

#if !KILN_HAVE_CUDA
namespace {
[[noreturn]] void no_cuda(const char* what) {
  fail(what, "this binary was built without CUDA (configure with -DKILN_WITH_CUDA=ON)", __FILE__, __LINE__);
}
}  // namespace
#endif

// Host memory is counted here; GPU memory where cudaMalloc is called (kernels/cuda/device_cuda.cu).
void* device_alloc(Device d, size_t bytes) {
  if (d == Device::kCpu) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    KILN_CHECK(p != nullptr, "host allocation of " + std::to_string(bytes) + " bytes failed");
    g_host_bytes_total += rounded;
    bump(g_events.allocs);
    return p;
  }
#if KILN_HAVE_CUDA
  return cuda_plugin().alloc(bytes);
#else
  no_cuda("device_alloc");
#endif
}

void device_free(Device d, void* p) {
  if (d == Device::kCpu) {
    if (p != nullptr) bump(g_events.frees);
    return std::free(p);
  }
#if KILN_HAVE_CUDA
  cuda_plugin().free(p);
#else
  no_cuda("device_free");
#endif
}

namespace {
void copy_uncounted(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);
}  // namespace

void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::kCpu && src_dev != Device::kCpu) bump(g_events.reads);
  if (dst_dev != Device::kCpu && src_dev == Device::kCpu) bump(g_events.uploads);
  copy_uncounted(dst, dst_dev, src, src_dev, bytes);
}

void copy_to_host(void* host_dst, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  bump(g_events.reads);
  copy_uncounted(host_dst, Device::kCpu, src, src_dev, bytes);
}

void copy_from_host(void* dst, Device dst_dev, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  bump(g_events.uploads);
  copy_uncounted(dst, dst_dev, host_src, Device::kCpu, bytes);
}

namespace {
void copy_uncounted(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (dst_dev == Device::kCpu && src_dev == Device::kCpu) {
    std::memmove(dst, src, bytes);
    return;
  }
#if KILN_HAVE_CUDA
  cuda_plugin().copy(dst, dst_dev == Device::kCuda, src, src_dev == Device::kCuda, bytes);
#else
  no_cuda("device_copy");
#endif
}
}  // namespace

void device_memset_zero(void* p, Device d, size_t bytes, Stream s) {
  if (d == Device::kCpu) {
    std::memset(p, 0, bytes);
    return;
  }
#if KILN_HAVE_CUDA
  cuda_plugin().memset_zero(p, bytes, s);
#else
  (void)s;
  no_cuda("device_memset_zero");
#endif
}

void device_synchronize(Device d) {
  if (d == Device::kCpu) return;
  bump(g_events.synchronizes);
#if KILN_HAVE_CUDA
  cuda_plugin().synchronize();
#else
  no_cuda("device_synchronize");
#endif
}

UploadStaging::UploadStaging(Device d, size_t bytes) : device_(d), bytes_(bytes) {
  for (int i = 0; i < 2; ++i) {
    if (d == Device::kCpu) {
      buffers_[i] = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
      KILN_CHECK(buffers_[i] != nullptr, "host allocation of " + std::to_string(bytes) + " bytes (upload staging) failed");
      continue;
    }
#if KILN_HAVE_CUDA
    buffers_[i] = cuda_plugin().host_alloc_pinned(bytes);
    done_[i] = cuda_plugin().event_create();
#else
    no_cuda("UploadStaging");
#endif
  }
}

UploadStaging::~UploadStaging() {
  for (int i = 0; i < 2; ++i) {
    if (device_ == Device::kCpu) {
      std::free(buffers_[i]);
      continue;
    }
#if KILN_HAVE_CUDA
    // The buffer may still be read by a queued copy: wait for it (errors ignored: no abort here).
    while (pending_[i] && done_[i] != nullptr && cuda_plugin().event_query(done_[i], nullptr) == 0) std::this_thread::yield();
    cuda_plugin().event_destroy(done_[i]);
    cuda_plugin().host_free_pinned(buffers_[i]);
#endif
  }
}

void* UploadStaging::next() {
  current_ = 1 - current_;
#if KILN_HAVE_CUDA
  if (device_ != Device::kCpu && pending_[current_]) {
    std::string error;
    int state = cuda_plugin().event_query(done_[current_], &error);
    if (state == 0) bump(g_events.staging_waits);  // the device is two uploads behind: wait
    while (state == 0) {
      std::this_thread::yield();
      state = cuda_plugin().event_query(done_[current_], &error);
    }
    KILN_CHECK(state == 1, "upload staging: " + error);
    pending_[current_] = false;
  }
#endif
  return buffers_[current_];
}

void UploadStaging::upload(void* dst, size_t bytes, Stream s) {
  KILN_CHECK(bytes <= bytes_, "upload staging: " + std::to_string(bytes) + " bytes do not fit its " +
                                  std::to_string(bytes_));
  bump(g_events.async_uploads);
  if (device_ == Device::kCpu) {
    std::memcpy(dst, buffers_[current_], bytes);
    return;
  }
#if KILN_HAVE_CUDA
  cuda_plugin().copy_from_host_async(dst, buffers_[current_], bytes, s);
  cuda_plugin().event_record(done_[current_], s);
  pending_[current_] = true;
#else
  (void)s;
  no_cuda("UploadStaging::upload");
#endif
}

}  // namespace kernels
