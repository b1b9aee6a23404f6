// model/placement.cpp
#include "model/placement.h"

#include "kernels/check.h"
#include "kernels/cudasim/ops_cudasim.h"
#include "kernels/ops.h"

namespace model {

Placement resolve_placement(const configs::TrainConfig& t) {
  Placement r;
  if (t.device == "cuda") r.device = kernels::Device::kCuda;
  else if (t.device == "auto") r.device = kernels::cuda_backend_ready() ? kernels::Device::kCuda : kernels::Device::kCpu;
  r.simulated = t.device == "cudasim";  // host memory (kCpu), the GPU's kernels and precision
  if (t.precision == "auto") {
    r.precision = r.device == kernels::Device::kCuda || r.simulated ? kernels::DType::BF16 : kernels::DType::F32;
  } else {
    KILN_REQUIRE_INPUT(kernels::parse_precision(t.precision, &r.precision),
                       "train.precision: expected auto, fp32, bf16 or fp16, got '" + t.precision + "'");
  }
  return r;
}

const kernels::Ops& ops_for(const Placement& p) {
  return p.simulated ? kernels::cudasim::kOps : kernels::ops_for(p.device);
}

const char* placement_name(const Placement& p) { return p.simulated ? "cudasim" : kernels::device_name(p.device); }

}  // namespace model
