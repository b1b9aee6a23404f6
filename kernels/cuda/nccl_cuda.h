// kernels/cuda/nccl_cuda.h
// NCCL calls of the CUDA plugin (nccl_cuda.cu), handed out through kernels/cuda_plugin.h to
// parallel/comm_nccl.cpp, which owns the communicators and their ordering. Plain C++ types.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/cuda_plugin.h"

namespace kernels::cuda {

size_t nccl_id_bytes();
void nccl_unique_id(void* id);
void* nccl_comm_init(int size, const void* id, int rank);
void nccl_comm_destroy(void* comm);
void nccl_all_reduce(void* buf, size_t count, DType dtype, NcclReduce op, void* comm, void* stream);
void nccl_all_gather(const void* in, void* out, size_t bytes, void* comm, void* stream);
void nccl_reduce_scatter(const void* in, void* out, size_t count, DType dtype, NcclReduce op, void* comm,
                         void* stream);
void nccl_broadcast(void* buf, size_t bytes, int root, void* comm, void* stream);
std::string nccl_async_error(void* comm);
void nccl_comm_abort(void* comm);

}  // namespace kernels::cuda
