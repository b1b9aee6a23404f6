// kernels/host_copy.h
// A float tensor of any dtype, on any device, as fp32 numbers on the host: for results the host
// reads (logits to sample from, values tests compare). Goes through ops.cast on the tensor's
// device when it is not already fp32 (fp64 is converted on the host); callers in a loop pass an
// fp32 `scratch` of the same shape so no device memory is allocated per call.
#pragma once

#include <vector>

#include "kernels/ops.h"

namespace kernels {

inline std::vector<float> copy_to_host_f32(const Ops& ops, Tensor t, Tensor scratch = {}) {
  std::vector<float> out(size_t(t.numel()));
  if (t.dtype == DType::F64) {
    std::vector<double> tmp(out.size());
    copy_to_host(tmp.data(), t.data, t.device, t.nbytes());
    for (size_t i = 0; i < out.size(); ++i) out[i] = float(tmp[i]);
  } else if (t.dtype == DType::F32) {
    copy_to_host(out.data(), t.data, t.device, t.nbytes());
  } else {
    OwnedTensor owned;
    if (scratch.empty()) {
      owned = OwnedTensor(t.device, DType::F32, t.shape);
      scratch = owned.t;
    }
    ops.cast(scratch, t, Stream{});
    copy_to_host(out.data(), scratch.data, t.device, scratch.nbytes());
  }
  return out;
}

}  // namespace kernels
