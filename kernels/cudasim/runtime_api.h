// kernels/cudasim/runtime_api.h
// The CUDA runtime calls kiln's kernels/cuda files make, for the simulator build: errors, streams
// (accepted and ignored: every simulated operation completes before it returns), memory in host
// RAM, device queries with fixed answers. Implemented in runtime_api.cpp. Included through
// kernels/cudasim/cuda_spellings.h. Not here: kernel launches (launch.h).
#pragma once

#include <cstddef>

#include "kernels/cudasim/types.h"

namespace cudasim::api {

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;

struct CUstream_st;
using cudaStream_t = CUstream_st*;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrMultiProcessorCount = 16,
};

const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
// The last launch-configuration error of this host thread (then reset), as CUDA's.
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s = nullptr);

}  // namespace cudasim::api
namespace cudasim {
// Streaming multiprocessors the simulator reports (cudaDevAttrMultiProcessorCount): small, so
// grids sized by SM count stay cheap to simulate, and not 1, so multi-block paths still run.
constexpr int kSimulatedSmCount = 4;
// Records a launch-configuration error for cudaGetLastError (used by launch.h's checks).
void set_last_error(cudaError_t e);
}  // namespace cudasim
