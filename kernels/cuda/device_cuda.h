// kernels/cuda/device_cuda.h
// The CUDA side of device.h, called only by the switchboard (kernels/device.cpp). Plain C++ types,
// so including it pulls in no CUDA header.
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

}  // namespace kernels::cuda
