// model/params.h
// The parameter arena: every GPT-2 tensor by name, with its fp32 master copy, its compute-precision
// copy, its gradient and its AdamW moments, each kind in one contiguous buffer.
//
// One buffer per kind lets the optimizer and the gradient norm run over all parameters at once and
// lets a later data-parallel reduction send a parameter kind in a few large messages. When the
// compute dtype equals the master dtype the compute copy aliases the master (no second copy).
// Initialisation is a pure function of (seed, parameter index, element index): see init().
// Names are for checkpoints, exports and construction: the model resolves them once into typed
// handles (model/gpt2_weights.h), so no step looks a parameter up by name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "configs/config.h"
#include "kernels/ops.h"
#include "kernels/tensor.h"
#include "parallel/tp_split.h"

namespace model {

using kernels::Device;
using kernels::DType;
using kernels::Shape;
using kernels::Tensor;

enum class Init { kNormal, kOnes, kZeros };

using parallel::Split;  // how a parameter is split over tp (parallel/tp_split.h)

struct ParamSpec {
  std::string name;   // Hugging Face GPT-2 style: "h.3.attn.c_attn.weight"
  Shape shape;        // global shape
  Init init = Init::kZeros;
  float std = 0.f;    // for kNormal
  bool decay = false; // AdamW weight decay applies (matrices and embeddings, not biases or norms)
  int padded_rows_from = -1;  // global rows >= this are vocab padding: kept at zero (wte, lm_head)
  Split split = Split::kReplicated;
};

// This tp rank's shape of a parameter, and the global flat index of its local element e.
inline Shape local_shape(const ParamSpec& s, int tp) { return parallel::local_shape(s.shape, s.split, tp); }
inline int64_t global_index(const ParamSpec& s, int tp, int tp_rank, int64_t e) {
  return parallel::global_index(s.shape, s.split, tp, tp_rank, e);
}

// The parameters of a GPT-2 model, in a fixed order (the order is part of the init coordinates).
std::vector<ParamSpec> gpt2_param_specs(const configs::ModelConfig& m, int vocab_real);

class ParamArena {
 public:
  // Holds tp rank `tp_rank`'s shard of every parameter (all of it when tp == 1). The flat length is
  // padded to a multiple of `length_multiple` (ZeRO-1 splits it into dp equal blocks). With
  // `moments` false the AdamW moments are not allocated here (ZeRO-1 keeps only its own block).
  ParamArena(std::vector<ParamSpec> specs, Device device, DType master_dtype, DType compute_dtype, int tp = 1,
             int tp_rank = 0, int64_t length_multiple = 1, bool moments = true);
  // Frees the full master copy once a ZeRO-1 optimizer holds its own block of it (bf16 runs; with
  // fp32 compute the master is the compute copy and must stay).
  void release_master();

  int size() const { return int(specs_.size()); }
  const ParamSpec& spec(int i) const { return specs_[size_t(i)]; }
  int index_of(const std::string& name) const;  // fails if absent
  bool has(const std::string& name) const;
  int64_t total_elements() const { return total_; }  // local, including alignment gaps
  int64_t offset(int i) const { return offsets_[size_t(i)]; }  // element offset in the flat buffers
  int tp() const { return tp_; }
  int tp_rank() const { return tp_rank_; }
  // Parameters of every rank together, without gaps or padding of the layout (for the banner).
  int64_t global_parameter_count() const;

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
  Tensor all_m() const;
  Tensor all_v() const;

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
  int tp_ = 1, tp_rank_ = 0;
  kernels::Buffer master_, compute_, grad_, m_, v_;
};

}  // namespace model
