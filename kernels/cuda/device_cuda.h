// kernels/cuda/device_cuda.h
// The CUDA side of device.h, reached by the switchboard (kernels/device.cpp) through the CUDA
// plugin's table (kernels/cuda/plugin.cu, kernels/cuda_plugin.h), plus the few CUDA facilities
// benchmarks and tests need (memory statistics, an event timer); those link libkiln_cuda.so. Plain C++ types, so
// including it pulls in no CUDA header: bench/ and tests/ may include it; trainer/ does not need to.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/device.h"

namespace kernels::cuda {

int gpu_count();  // 0 without a driver or GPU (cudaGetDeviceCount errors are not fatal)
void* alloc(size_t bytes);
void free(void* p);
void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes);
void memset_zero(void* p, size_t bytes, Stream s);
void synchronize();
std::string runtime_version();  // "13.0"
std::string cudnn_version();    // "9.19.0"
std::string nccl_version();     // "2.28.9"

// Device memory as kiln sees it. allocated/peak count only what went through alloc() (Buffers,
// cuBLASLt workspaces, op scratch); used/total come from cudaMemGetInfo (whole device, including
// the CUDA context and other processes).
struct MemoryStats {
  size_t allocated = 0;       // bytes currently held through alloc()
  size_t peak_allocated = 0;  // high-water mark of `allocated` since start or reset_peak_memory()
  size_t device_used = 0;     // total - free
  size_t device_total = 0;
};
MemoryStats memory_stats();
void reset_peak_memory();  // peak_allocated = allocated

// Human-readable name of the current device, e.g. "NVIDIA H100 80GB HBM3".
std::string device_name();

// Elapsed GPU time between two points of a stream (cudaEvent pair). start() and stop() only
// enqueue; elapsed_ms() waits for the stop event. Not copyable.
class EventTimer {
 public:
  EventTimer();
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  void start(Stream s);
  void stop(Stream s);
  float elapsed_ms() const;

 private:
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;
};

}  // namespace kernels::cuda
