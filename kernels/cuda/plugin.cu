// kernels/cuda/plugin.cu
// The entry point of libkiln_cuda.so: kiln_cuda_plugin() hands the loader (kernels/cuda_plugin.cpp)
// the table of this backend's functions, kernels/cuda_plugin.h's CudaPlugin. Also the few CUDA
// runtime calls other folders need (device binding for launch/world.cpp, streams and events for
// parallel/comm_nccl.cpp), so that nothing outside this plugin links the CUDA runtime.
// Not here: the ops (one file each), memory and versions (device_cuda.cu), NCCL (nccl_cuda.cu).
#include <cstdio>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_cuda.h"
#include "kernels/cuda/nccl_cuda.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda_plugin.h"

namespace kernels::cuda {
namespace {

void set_device(int device) { KILN_CUDA_CHECK(cudaSetDevice(device)); }

int get_device() {
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

size_t peak_allocated_bytes() { return memory_stats().peak_allocated; }

size_t device_free_bytes() {
  const MemoryStats m = memory_stats();  // cudaMemGetInfo inside
  return m.device_total > m.device_used ? m.device_total - m.device_used : 0;
}

void* stream_create_nonblocking() {
  // Non-blocking: must not serialize with the legacy default stream (see parallel/comm_nccl.h).
  cudaStream_t s = nullptr;
  KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void stream_destroy(void* s) {
  if (s != nullptr) (void)cudaStreamDestroy(static_cast<cudaStream_t>(s));
}

void* event_create() {
  cudaEvent_t e = nullptr;
  KILN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}

void event_destroy(void* e) {
  if (e != nullptr) (void)cudaEventDestroy(static_cast<cudaEvent_t>(e));
}

int event_query(void* e, std::string* error) {
  const cudaError_t q = cudaEventQuery(static_cast<cudaEvent_t>(e));
  if (q == cudaSuccess) return 1;
  if (q == cudaErrorNotReady) return 0;
  if (error != nullptr) *error = std::string("cudaEventQuery: ") + cudaGetErrorString(q);
  return -1;
}

void event_record(void* e, Stream s) { KILN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(e), cuda_stream(s))); }

void stream_wait_event(Stream s, void* e) {
  KILN_CUDA_CHECK(cudaStreamWaitEvent(cuda_stream(s), static_cast<cudaEvent_t>(e), 0));
}

void copy_device_async(void* dst, const void* src, size_t bytes, Stream s) {
  KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream(s)));
}

void* host_alloc_pinned(size_t bytes) {
  void* p = nullptr;
  KILN_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
  return p;
}

void host_free_pinned(void* p) {
  if (p != nullptr) (void)cudaFreeHost(p);
}

void copy_from_host_async(void* dst, const void* pinned_src, size_t bytes, Stream s) {
  KILN_CUDA_CHECK(cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice, cuda_stream(s)));
}

std::string pci_bus_id() {
  int dev = 0;
  char bus[32] = {};
  KILN_CUDA_CHECK(cudaGetDevice(&dev));
  KILN_CUDA_CHECK(cudaDeviceGetPCIBusId(bus, sizeof(bus), dev));
  return bus;
}

const CudaPlugin kPlugin = {
    .abi = kCudaPluginAbi,
    .gpu_count = gpu_count,
    .set_device = set_device,
    .get_device = get_device,
    .device_name = device_name,
    .runtime_version = runtime_version,
    .cudnn_version = cudnn_version,
    .nccl_version = nccl_version,
    .alloc = alloc,
    .free = free,
    .copy = copy,
    .memset_zero = memset_zero,
    .synchronize = synchronize,
    .peak_allocated_bytes = peak_allocated_bytes,
    .device_free_bytes = device_free_bytes,
    .ops = &kOps,
    .stream_create_nonblocking = stream_create_nonblocking,
    .stream_destroy = stream_destroy,
    .event_create = event_create,
    .event_destroy = event_destroy,
    .event_record = event_record,
    .event_query = event_query,
    .stream_wait_event = stream_wait_event,
    .copy_device_async = copy_device_async,
    .pci_bus_id = pci_bus_id,
    .nccl_id_bytes = nccl_id_bytes(),
    .nccl_unique_id = nccl_unique_id,
    .nccl_comm_init = nccl_comm_init,
    .nccl_comm_destroy = nccl_comm_destroy,
    .nccl_all_reduce = nccl_all_reduce,
    .nccl_all_gather = nccl_all_gather,
    .nccl_reduce_scatter = nccl_reduce_scatter,
    .nccl_broadcast = nccl_broadcast,
    .nccl_async_error = nccl_async_error,
    .nccl_comm_abort = nccl_comm_abort,
    .host_alloc_pinned = host_alloc_pinned,
    .host_free_pinned = host_free_pinned,
    .copy_from_host_async = copy_from_host_async,
};

}  // namespace
}  // namespace kernels::cuda

extern "C" __attribute__((visibility("default"))) const kernels::CudaPlugin* kiln_cuda_plugin() {
  return &kernels::cuda::kPlugin;
}
