// inference/llama_generator.h
// The KV-cache generator of Llama (see generator.h): LlamaModel::forward for n new rows of one
// sequence. q and k are rotated at their absolute positions pos .. pos+n-1 before k enters the
// cache, so the cache holds rotated keys, as the full forward computes them; every layer's cache
// holds NKV heads (maxT, NKV*hs), a fraction NKV/NH of what multi-head attention would keep.
#pragma once

#include <memory>

#include "inference/generator.h"
#include "model/llama_weights.h"

namespace inference {

class LlamaGenerator : public Generator {
 public:
  LlamaGenerator(const configs::ModelConfig& cfg, const ParamArena& params, int vocab_real, const kernels::Ops& ops);
  ~LlamaGenerator() override;
  std::vector<float> feed(const std::vector<int32_t>& tokens) override;

 private:
  struct Buffers;
  configs::ModelConfig cfg_;
  const ParamArena& params_;
  model::LlamaWeights w_;  // the compute weights, resolved once
  int vocab_real_;
  const kernels::Ops& ops_;
  float eps_, theta_;
  std::unique_ptr<Buffers> b_;
};

}  // namespace inference
