// model/placement.cpp
#include "model/placement.h"

#include "kernels/check.h"
#include "kernels/ops.h"

namespace model {

Placement resolve_placement(const configs::TrainConfig& t) {
  Placement r;
  if (t.device == "cuda") r.device = kernels::Device::kCuda;
  else if (t.device == "auto") r.device = kernels::cuda_backend_ready() ? kernels::Device::kCuda : kernels::Device::kCpu;
  if (t.precision == "auto") {
    r.precision = r.device == kernels::Device::kCuda ? kernels::DType::BF16 : kernels::DType::F32;
  } else {
    KILN_REQUIRE_INPUT(kernels::parse_precision(t.precision, &r.precision),
                       "train.precision: expected auto, fp32, bf16 or fp16, got '" + t.precision + "'");
  }
  return r;
}

}  // namespace model
