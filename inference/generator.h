// inference/generator.h
// Autoregressive decoding with a KV cache. The prompt goes through the model once (every layer's
// k and v are kept); each new token then costs one row per layer, attending to the cache, instead
// of a forward pass over the whole context. Same weights, ops and order of arithmetic per row as
// Gpt2Model::forward, so the logits equal a full recompute (tests/inference/test_generation.cpp).
//
// One sequence at a time, no tensor parallelism (the params are a tp = 1 arena). The context is
// at most model.seq_len tokens (learned positions end there): the caller decides what to do when
// it is full (kiln sample restarts the cache from the last half of the text).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "configs/config.h"
#include "kernels/ops.h"
#include "inference/sampler.h"
#include "model/gpt2_weights.h"
#include "model/params.h"

namespace inference {

using kernels::DType;
using kernels::Shape;
using kernels::Tensor;
using model::ParamArena;

class Generator {
 public:
  // params must outlive the generator; vocab_real: logits past it (vocab padding) are dropped.
  Generator(const configs::ModelConfig& cfg, const ParamArena& params, int vocab_real, const kernels::Ops& ops);
  ~Generator();

  // Runs tokens at positions position() .. position()+n-1 through the model, adding their k and v
  // to the cache, and returns the logits (vocab_real of them) that predict the token after the last.
  std::vector<float> feed(const std::vector<int32_t>& tokens);
  int position() const { return pos_; }
  int capacity() const { return cfg_.seq_len; }
  void reset() { pos_ = 0; }  // the cache rows are overwritten as new tokens arrive

 private:
  struct Buffers;
  configs::ModelConfig cfg_;
  const ParamArena& params_;
  model::Gpt2Weights w_;  // the compute weights, resolved once
  int vocab_real_;
  const kernels::Ops& ops_;
  std::unique_ptr<Buffers> b_;
  int pos_ = 0;
};

// How many tokens a full context keeps when it is rebuilt: half of it, but at least one (a
// seq_len 1 model would otherwise rebuild from nothing).
inline int tokens_kept_on_rebuild(int capacity) { return capacity / 2 > 0 ? capacity / 2 : 1; }

// The generation loop of `kiln sample`: feeds `context` (its last capacity() tokens), then chooses
// and feeds up to max_new tokens, calling on_token(id) for each as soon as it is chosen. Stops
// early at `eot` (not passed on; -1: none). When the context is full the cache is rebuilt from the
// last tokens_kept_on_rebuild(capacity()) tokens (on_rebuild is told once). Token i is drawn at
// sampler position i, so a seed reproduces the text. Returns the number of tokens passed to on_token.
int generate(Generator& gen, std::vector<int32_t> context, const SamplingOptions& sampling, int max_new, int eot,
             const std::function<void(int32_t)>& on_token, const std::function<void()>& on_rebuild = {});

}  // namespace inference
