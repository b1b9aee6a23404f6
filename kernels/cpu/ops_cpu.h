// kernels/cpu/ops_cpu.h
// The CPU reference backend's op table.
#pragma once

#include "kernels/ops.h"

namespace kernels::cpu {
extern const Ops kOps;
}  // namespace kernels::cpu
