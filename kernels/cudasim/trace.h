// kernels/cudasim/trace.h
// The launch trace (KILN_CUDASIM_TRACE=FILE: one line per launch, appended) and kernel names as
// in the source. Used by scheduler.cpp; the test context is set through launch.h.
#pragma once

#include <cstddef>

#include "kernels/cudasim/types.h"

namespace cudasim::detail {

// "name grid=(x,y,z) block=(x,y,z) shared=N[ test=CONTEXT]" when KILN_CUDASIM_TRACE names a file.
void trace_launch(const char* kernel_name, dim3 grid, dim3 block, size_t shared_bytes);

}  // namespace cudasim::detail
