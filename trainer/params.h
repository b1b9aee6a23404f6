// trainer/params.h
// The parameter arena: every GPT-2 tensor by name, with its fp32 master copy, its compute-precision
// copy, its gradient and its AdamW moments, each kind in one contiguous buffer.
//
// One buffer per kind lets the optimizer and the gradient norm run over all parameters at once and
// lets a later data-parallel reduction send a parameter kind in a few large messages. When the
// compute dtype equals the master dtype the compute copy aliases the master (no second copy).
// Initialisation is a pure function of (seed, parameter index, element index): see init().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "configs/config.h"
#include "kernels/ops.h"
#include "kernels/tensor.h"

namespace trainer {

using kernels::Device;
using kernels::DType;
using kernels::Shape;
using kernels::Tensor;

enum class Init { kNormal, kOnes, kZeros };

struct ParamSpec {
  std::string name;   // Hugging Face GPT-2 style: "h.3.attn.c_attn.weight"
  Shape shape;        // global shape
  Init init = Init::kZeros;
  float std = 0.f;    // for kNormal
  bool decay = false; // AdamW weight decay applies (matrices and embeddings, not biases or norms)
  int padded_rows_from = -1;  // rows >= this are vocab padding: kept at zero (wte, lm_head)
};

// The parameters of a GPT-2 model, in a fixed order (the order is part of the init coordinates).
std::vector<ParamSpec> gpt2_param_specs(const configs::ModelConfig& m, int vocab_real);

class ParamArena {
 public:
  ParamArena(std::vector<ParamSpec> specs, Device device, DType master_dtype, DType compute_dtype);

  int size() const { return int(specs_.size()); }
  const ParamSpec& spec(int i) const { return specs_[size_t(i)]; }
  int index_of(const std::string& name) const;  // fails if absent
  int64_t total_elements() const { return total_; }

  Tensor master(int i) const;   // master dtype (fp32; fp64 in gradient checks)
  Tensor compute(int i) const;  // compute dtype (aliases master when the dtypes match)
  Tensor grad(int i) const;     // master dtype
  Tensor m(int i) const;        // fp32 AdamW first moment
  Tensor v(int i) const;        // fp32 AdamW second moment
  Tensor compute(const std::string& name) const { return compute(index_of(name)); }
  Tensor grad(const std::string& name) const { return grad(index_of(name)); }

  // Flat views over every parameter of one kind.
  Tensor all_master() const;
  Tensor all_compute() const;
  Tensor all_grads() const;

  // GPT-2 init: normal(0, std) per spec, LayerNorm weights 1, biases 0, padded vocab rows 0.
  // Element e of parameter p gets normal(mix(seed, kInit, p), e): independent of any layout.
  void init(uint64_t seed, const kernels::Ops& ops);
  void zero_grads(const kernels::Ops& ops);
  void zero_moments(const kernels::Ops& ops);
  // Refreshes the compute copy from the master (after init or a load).
  void sync_compute(const kernels::Ops& ops);

  DType master_dtype() const { return master_dtype_; }
  DType compute_dtype() const { return compute_dtype_; }
  Device device() const { return device_; }

 private:
  Tensor at(const kernels::Buffer& b, DType dt, int i) const;
  std::vector<ParamSpec> specs_;
  std::vector<int64_t> offsets_;  // element offset of each parameter
  int64_t total_ = 0;
  Device device_;
  DType master_dtype_, compute_dtype_;
  kernels::Buffer master_, compute_, grad_, m_, v_;
};

}  // namespace trainer
