// kernels/cudasim/ops_cudasim.h
// The `cudasim` op table: kiln's CUDA backend (kernels/cuda/*.cu, unchanged) running on the CPU
// simulator. Tensors live in host memory (Device::kCpu buffers, like the CPU backend's); each
// entry hands them to the simulated CUDA entry point as device tensors. Plain C++, no CUDA header:
// tests and the trainer (train.device: cudasim) include it. Semantics: kernels/ops.h.
//
// What runs simulated, thread by thread: every op whose CUDA implementation is kiln's own kernel
// (all of them today). What does not: the two vendor-library calls the CUDA backend makes, which
// run on the simulator's stand-ins instead (reference code with the libraries' contracts):
//   matmul_forward / matmul_backward   the GEMMs (cuBLASLt -> kernels/cudasim/cublaslt.cpp);
//                                      the dbias column sums and the separate bias kernel are
//                                      kiln's and run simulated
//   embedding_backward                 the key sort (cub radix sort -> cub_radix_sort.h); the
//                                      key, dwte and dwpe kernels run simulated
// cuDNN and NCCL are not called by any op (parallel/ owns NCCL), so nothing falls back for them.
#pragma once

#include "kernels/ops.h"

namespace kernels::cudasim {

extern const Ops kOps;

}  // namespace kernels::cudasim
