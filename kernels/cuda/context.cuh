// kernels/cuda/context.cuh
// Long-lived CUDA resources the stateless ops need: one cuBLASLt handle per device, and per
// (device, stream) a fixed cuBLASLt workspace and a grow-only scratch buffer.
// Used by kernels/cuda/*.cu (matmul, layernorm and dbias partial sums, attention's D rows,
// embedding's sort, sum_squares' partials). Private: includes cublasLt.h.
// Not here: tensors the model owns (those are Buffers), streams (the caller owns them).
//
// Ordering contract: scratch and workspace are keyed by stream, so two streams never share one.
// Within a stream, work is ordered, so an op may reuse the scratch of the previous op. A scratch
// pointer is valid until the next scratch() call on the same stream (growing it synchronizes the
// device before freeing the old buffer, so queued kernels never see it disappear).
// Resources live until the process exits; they are never freed (CUDA tears the context down).
#pragma once

#include <cstddef>

#include "kernels/cuda/common.cuh"
#include KILN_CUBLASLT_HEADER  // cuBLASLt, or the simulator's stand-in (compat.cuh)

#define KILN_CUBLAS_CHECK(call)                                                            \
  do {                                                                                     \
    cublasStatus_t s_ = (call);                                                            \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                       \
      ::kernels::fail(#call, ::kernels::cuda::cublas_status_name(s_), __FILE__, __LINE__); \
  } while (0)

namespace kernels::cuda {

const char* cublas_status_name(cublasStatus_t s);

// cuBLASLt handle of the current device (created on first use).
cublasLtHandle_t lt_handle();

// The cuBLASLt workspace of (current device, stream): kLtWorkspaceBytes, 256-byte aligned.
constexpr size_t kLtWorkspaceBytes = size_t(32) << 20;  // 32 MiB: what NVIDIA suggests for Hopper
void* lt_workspace(cudaStream_t stream);

// At least `bytes` of device memory for (current device, stream), 256-byte aligned.
void* scratch(size_t bytes, cudaStream_t stream);

// Streaming multiprocessors of the current device (cached): sizes grids of partial reductions.
int sm_count();

}  // namespace kernels::cuda
