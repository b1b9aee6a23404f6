// inference/gpt2_generator.h
// The KV-cache generator of GPT-2 (see generator.h): Gpt2Model::forward for n new rows of one
// sequence, positions from wpe, attention over the cache of every layer (maxT, C).
#pragma once

#include <memory>

#include "inference/generator.h"
#include "model/gpt2_weights.h"

namespace inference {

class Gpt2Generator : public Generator {
 public:
  Gpt2Generator(const configs::ModelConfig& cfg, const ParamArena& params, int vocab_real, const kernels::Ops& ops);
  ~Gpt2Generator() override;
  std::vector<float> feed(const std::vector<int32_t>& tokens) override;

 private:
  struct Buffers;
  configs::ModelConfig cfg_;
  const ParamArena& params_;
  model::Gpt2Weights w_;  // the compute weights, resolved once
  int vocab_real_;
  const kernels::Ops& ops_;
  std::unique_ptr<Buffers> b_;
};

}  // namespace inference
