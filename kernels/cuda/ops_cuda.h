// kernels/cuda/ops_cuda.h
// The CUDA op table. Its entries are filled in by the CUDA backend (issue 3); until an entry is
// non-null the switchboard (kernels/backend.cpp) does not offer the CUDA backend for training.
#pragma once

#include "kernels/ops.h"

namespace kernels::cuda {
extern const Ops kOps;
}  // namespace kernels::cuda
