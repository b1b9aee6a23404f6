// kernels/cuda_plugin.h
// The CUDA backend as a plugin: libkiln_cuda.so (kernels/cuda/*.cu, the cuBLASLt/cuDNN/NCCL users)
// is loaded with dlopen the first time a CUDA device is really used, the way ggml loads its
// backends. A command that never touches a GPU (`kiln --version`, `prepare`, `inspect`, training
// on the CPU) never maps the CUDA runtime, cuBLASLt, cuDNN or NCCL: they cost ~0.5 s and ~200 MB
// to load and initialise, on every start, even without a GPU.
//
// Who calls what:
//   the switchboards (kernels/device.cpp, kernels/backend.cpp, launch/world.cpp) decide *whether*
//     CUDA exists in this build and call cuda_driver_gpu_count() / cuda_plugin();
//   parallel/comm_nccl.cpp (built only with CUDA, constructed only by parallel/groups.cpp) uses the
//     stream, event and NCCL entries;
//   nothing else. The table is plain C++ types: including this header pulls in no CUDA header.
//
// Finding the plugin: $KILN_CUDA_PLUGIN when set (a path; e.g. another build of the backend), else
// libkiln_cuda.so in the folder of libkiln_kernels.so (build/lib in the build tree, PREFIX/lib
// when installed), else the dynamic linker's search path. Exe and plugin are built from the same
// tree, so `abi` guards only against a stale file: a mismatch is a clear error, not a crash.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/device.h"
#include "kernels/dtype.h"

namespace kernels {

struct Ops;

// Bump whenever CudaPlugin or the op table it points to (kernels::Ops) changes shape. 4: the
// Llama ops (rmsnorm, rope, swiglu; grouped-query attention arguments). 5: loss_mean_accumulate. 6: pinned uploads.
inline constexpr int kCudaPluginAbi = 6;
// The symbol the plugin exports: extern "C" const CudaPlugin* kiln_cuda_plugin();
inline constexpr const char* kCudaPluginEntry = "kiln_cuda_plugin";
inline constexpr const char* kCudaPluginFile = "libkiln_cuda.so";

enum class NcclReduce { kSum, kAvg, kMax };

struct CudaPlugin {
  int abi = 0;  // kCudaPluginAbi of the build that made the plugin

  // Devices and memory (kernels/device.cpp). gpu_count() is 0 when the runtime finds no usable
  // GPU (no driver, a driver too old for the runtime, CUDA_VISIBLE_DEVICES empty).
  int (*gpu_count)();
  void (*set_device)(int device);
  int (*get_device)();  // the calling thread's current device
  std::string (*device_name)();
  std::string (*runtime_version)();  // "13.0"
  std::string (*cudnn_version)();    // of the loaded library, "9.19.0"
  std::string (*nccl_version)();     // of the loaded library, "2.28.9"
  void* (*alloc)(size_t bytes);
  void (*free)(void* p);
  void (*copy)(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes);
  void (*memset_zero)(void* p, size_t bytes, Stream s);
  void (*synchronize)();
  size_t (*peak_allocated_bytes)();
  size_t (*device_free_bytes)();  // cudaMemGetInfo's free bytes of the current device

  // The op table (kernels/backend.cpp): kernels::cuda::kOps.
  const Ops* ops;

  // Streams and events for parallel/comm_nccl.cpp; handles are cudaStream_t / cudaEvent_t.
  void* (*stream_create_nonblocking)();
  void (*stream_destroy)(void* stream);  // never fails (used in destructors)
  void* (*event_create)();               // without timing
  void (*event_destroy)(void* event);    // never fails
  void (*event_record)(void* event, Stream s);
  // For the collective watchdog's watcher thread (parallel/comm_nccl_watch.cpp); never abort:
  // 1 = complete, 0 = not yet, -1 = failed (*error says why).
  int (*event_query)(void* event, std::string* error);
  void (*stream_wait_event)(Stream s, void* event);
  void (*copy_device_async)(void* dst, const void* src, size_t bytes, Stream s);
  std::string (*pci_bus_id)();  // of the current device, "0000:1B:00.0"

  // NCCL. id is nccl_id_bytes of opaque bytes (ncclUniqueId); comm is an ncclComm_t. count is in
  // elements of dtype; all_gather and broadcast move bytes.
  size_t nccl_id_bytes;
  void (*nccl_unique_id)(void* id);
  void* (*nccl_comm_init)(int size, const void* id, int rank);
  void (*nccl_comm_destroy)(void* comm);  // never fails
  void (*nccl_all_reduce)(void* buf, size_t count, DType dtype, NcclReduce op, void* comm, void* stream);
  void (*nccl_all_gather)(const void* in, void* out, size_t bytes, void* comm, void* stream);
  void (*nccl_reduce_scatter)(const void* in, void* out, size_t count, DType dtype, NcclReduce op, void* comm,
                              void* stream);
  void (*nccl_broadcast)(void* buf, size_t bytes, int root, void* comm, void* stream);
  // The watchdog's: NCCL's asynchronous error state ("" while fine or still in progress), and
  // ncclCommAbort (never fails; the communicator is gone afterwards).
  std::string (*nccl_async_error)(void* comm);
  void (*nccl_comm_abort)(void* comm);

  // Uploads that do not make the host wait (kernels::UploadStaging): page-locked host memory
  // (cudaHostAlloc / cudaFreeHost) and cudaMemcpyAsync host->device on a stream.
  void* (*host_alloc_pinned)(size_t bytes);
  void (*host_free_pinned)(void* p);  // never fails (used in destructors)
  void (*copy_from_host_async)(void* dst, const void* pinned_src, size_t bytes, Stream s);
};

// Loads the plugin on first call (thread-safe) and returns its table. Throws InputError saying
// which files were tried and why each failed (not found, missing library, stale ABI).
const CudaPlugin& cuda_plugin();
// True once cuda_plugin() has loaded it; never loads.
bool cuda_plugin_loaded();
// Where cuda_plugin() would load from, without loading: the first candidate that exists, or ""
// when none does. For `kiln --version`.
std::string cuda_plugin_path();

// GPUs the CUDA driver reports (cuInit + cuDeviceGetCount through dlopen of libcuda.so.1), without
// loading the plugin or the runtime: 0 without a driver. Cached after the first call. Honours
// CUDA_VISIBLE_DEVICES as the runtime does.
int cuda_driver_gpu_count();

}  // namespace kernels
