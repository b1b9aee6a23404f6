// model/placement.h
// Where a model runs and in which compute precision, after resolving the config's "auto"s:
// train.device auto = cuda when the CUDA backend is ready, else cpu; train.precision auto = bf16 on
// cuda, fp32 on cpu. Shared by training, eval and sample, so all three choose alike.
// train.device: cudasim (training only; a debugging aid) is the CUDA kernels on the CPU simulator
// (kernels/cudasim): host memory (Device::kCpu), the GPU's kernels and default precision. Its table
// is plain CPU code linked into kiln_model, not the CUDA plugin: choosing it loads no CUDA library.
#pragma once

#include "configs/config.h"
#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/ops.h"

namespace model {

struct Placement {
  kernels::Device device = kernels::Device::kCpu;
  kernels::DType precision = kernels::DType::F32;
  bool simulated = false;  // train.device: cudasim (device stays kCpu: tensors live in host memory)
};

// Throws InputError naming train.precision when it is not auto, fp32, bf16 or fp16.
Placement resolve_placement(const configs::TrainConfig& t);
// The op table a placement runs: the CPU's, the GPU's (the CUDA plugin), or the simulated GPU's.
const kernels::Ops& ops_for(const Placement& p);
// "cpu", "cuda" or "cudasim", for banners.
const char* placement_name(const Placement& p);

}  // namespace model
