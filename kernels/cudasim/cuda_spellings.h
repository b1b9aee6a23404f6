// kernels/cudasim/cuda_spellings.h
// Everything a kernels/cuda source needs to compile as plain C++ against the simulator: included
// by kernels/cuda/compat.cuh (the one portability header) in place of cuda_runtime.h, cuda_bf16.h
// and cuda_fp16.h when KILN_CUDASIM is set. Not here: the implementations (scheduler.cpp,
// runtime_api.cpp).
//
// How the CUDA keywords map:
//   __global__        static: a kernel is an ordinary function with internal linkage, so its
//                     __shared__ arrays are internal too and AddressSanitizer guards them.
//   __shared__        static: one instance per kernel (instantiation), shared by the fibers of the
//                     block that runs; blocks run one after another, launches are serialized.
//                     Like the GPU's, it is not cleared between blocks.
//   __device__, __host__, __launch_bounds__(...), __noinline__    nothing
//   __forceinline__   inline
// The rest are functions and types: types.h, device_api.h, runtime_api.h, launch.h.
#pragma once

#include <cmath>
#include <cstdio>

#include "kernels/cudasim/device_api.h"
#include "kernels/cudasim/launch.h"
#include "kernels/cudasim/runtime_api.h"
#include "kernels/cudasim/types.h"

#define __global__ static
#define __shared__ static
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
