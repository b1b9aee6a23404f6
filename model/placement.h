// model/placement.h
// Where a model runs and in which compute precision, after resolving the config's "auto"s:
// train.device auto = cuda when the CUDA backend is ready, else cpu; train.precision auto = bf16 on
// cuda, fp32 on cpu. Shared by training, eval and sample, so all three choose alike.
#pragma once

#include "configs/config.h"
#include "kernels/device.h"
#include "kernels/dtype.h"

namespace model {

struct Placement {
  kernels::Device device = kernels::Device::kCpu;
  kernels::DType precision = kernels::DType::F32;
};

// Throws InputError naming train.precision when it is not auto, fp32, bf16 or fp16.
Placement resolve_placement(const configs::TrainConfig& t);

}  // namespace model
