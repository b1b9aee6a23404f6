// kernels/device.h
// Where memory lives and how work is ordered, in backend-neutral terms.
//
// Device names a memory space (host or one GPU). Stream orders work on a device: on the CPU every
// op runs synchronously, so Stream::host() is a null handle and record/wait are no-ops. The CUDA
// implementation (kernels/cuda/device_cuda.cu) maps Stream to cudaStream_t and Event to cudaEvent_t.
// Nothing in this header includes a CUDA header: the model and trainer see only these types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kernels {

enum class Device { kCpu, kCuda };

inline const char* device_name(Device d) { return d == Device::kCpu ? "cpu" : "cuda"; }

// A non-owning handle to an ordered queue of work. {} means "the host, synchronous".
struct Stream {
  void* handle = nullptr;
  static Stream host() { return {}; }
};

// Build features, for `kiln --version` and the start-up banner.
struct BuildInfo {
  bool cuda = false;           // the CUDA backend was compiled (as the plugin libkiln_cuda.so)
  // Versions this build was compiled against (the headers), or "no".
  std::string cuda_version;
  std::string cudnn_version;   // or "no"
  std::string nccl_version;    // or "no"
  // The CUDA plugin file the first GPU use would load (kernels/cuda_plugin.h), "" when CUDA was
  // built but the file is missing; not loaded to find out.
  std::string cuda_plugin;
};
BuildInfo build_info();

// Number of GPUs this process can use: 0 when the binary has no CUDA, or there is no driver/GPU.
int gpu_count();
// The name of the GPU this process uses ("NVIDIA H100 80GB HBM3"); "" without one.
std::string gpu_name();
// High-water mark of GPU memory held through device_alloc (Buffers, workspaces) since start: the
// peak the metrics report. 0 without CUDA.
size_t gpu_peak_allocated_bytes();

// How many bytes a new allocation on `d` can still get, and where the number comes from: on the
// host MemAvailable (/proc/meminfo), lowered to the cgroup's memory.max minus memory.current when a
// container limit is set; on a GPU the free memory cudaMemGetInfo reports. bytes == 0 and an empty
// source when nothing can be read (the caller then skips its check rather than guess).
struct AvailableMemory {
  uint64_t bytes = 0;
  std::string source;  // "MemAvailable", "cgroup memory.max", "cudaMemGetInfo"
};
AvailableMemory available_memory(Device d);
// Bytes device_alloc has handed out on the host since the process started (each request rounded
// up to 64 bytes as allocated; frees do not subtract). Tests take differences of it to see what a
// constructor really allocated (tests/trainer/test_memory_estimate.cpp).
uint64_t host_bytes_allocated_total();

// Raw memory in a device's space. Buffer (tensor.h) is the owner that uses these.
void* device_alloc(Device d, size_t bytes);
void device_free(Device d, void* p);
// Copies bytes between any two spaces; synchronous with respect to the host.
void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);
// The same copy with its direction stated: a read of a tensor's bytes into host memory, and an
// upload of host bytes into a tensor. Counted as such (device_event_counts) whatever `src_dev` /
// `dst_dev` is, so a CPU or simulated (host-memory) run counts the copies a GPU run would make.
void copy_to_host(void* host_dst, const void* src, Device src_dev, size_t bytes);
void copy_from_host(void* dst, Device dst_dev, const void* host_src, size_t bytes);
void device_memset_zero(void* p, Device d, size_t bytes, Stream s);
void device_synchronize(Device d);

// Host-blocking device events since the last reset, for tests that hold a training step to "no host
// sync, no allocation" (tests/trainer/test_step_syncs.cpp). Counted where the calls are made:
// copy_to_host / copy_from_host (any device), device_copy between a GPU and the host,
// device_synchronize, device_alloc / device_free (host memory too: on the CPU and in the simulator
// tensors live there), and the CUDA backends' own allocations (kernels/cuda/device_cuda.cu, and the
// simulator's kernels/cudasim/device_sim.cpp, which compiles the same callers). Process-wide,
// relaxed atomics: exact when one thread drives the device.
struct DeviceEventCounts {
  uint64_t reads = 0;         // device -> host copies: the host waits for every earlier kernel
  uint64_t uploads = 0;       // host -> device copies: synchronous cudaMemcpy from pageable memory
  uint64_t synchronizes = 0;  // device_synchronize
  uint64_t allocs = 0, frees = 0;
  uint64_t async_uploads = 0;  // UploadStaging::upload: queued on a stream, the host does not wait
  uint64_t staging_waits = 0;  // UploadStaging::next found its buffer's last upload not yet run
  // Every event that makes the host wait for the device.
  uint64_t host_syncs() const { return reads + uploads + synchronizes + staging_waits; }
};
DeviceEventCounts device_event_counts();
void reset_device_event_counts();
// Host memory that uploads are queued from without the host waiting: two buffers of `bytes`, used
// in turn (page-locked on a GPU, so cudaMemcpyAsync does not stage them; plain host memory on the
// CPU, where the upload is a memcpy). next() hands out the other buffer, first waiting, should the
// device be that far behind, until the upload that last read it has run (an event recorded after
// it); upload() queues the copy of the buffer next() returned and returns at once. One owner of the
// per-micro-batch upload (model/loss_head.cpp).
class UploadStaging {
 public:
  UploadStaging(Device d, size_t bytes);
  ~UploadStaging();
  UploadStaging(const UploadStaging&) = delete;
  UploadStaging& operator=(const UploadStaging&) = delete;
  void* next();
  void upload(void* dst, size_t bytes, Stream s);

 private:
  Device device_;
  size_t bytes_;
  void* buffers_[2] = {nullptr, nullptr};
  void* done_[2] = {nullptr, nullptr};  // GPU: an event recorded after each buffer's last upload
  bool pending_[2] = {false, false};
  int current_ = 1;
};

// For a backend's own allocations that do not go through device_alloc (scratch, workspaces).
void count_backend_alloc();
void count_backend_free();
void count_backend_synchronize();

}  // namespace kernels
