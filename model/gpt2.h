// model/gpt2.h
// GPT-2 with explicit forward and backward passes over the op table (no autograd).
//
// Pre-LayerNorm blocks, learned positions, 4x (d_ff) MLP with tanh-GELU, tied embeddings by default.
// The vocabulary is padded (model.vocab_size) for aligned matmuls; padded logits are masked inside
// softmax_xent, so they never receive probability or gradient.
//
// B micro-batch, T seq_len, C d_model, NH heads, F d_ff, L layers, V padded vocab, Vr real vocab,
// tp tensor-parallel degree: this rank holds NH/tp heads, F/tp MLP features and V/tp vocab rows
// (Megatron's column/row split, parallel/tp_mappings.h); the residual stream (B,T,C) is replicated.
// Activations are kept for every layer (no recomputation); on the CPU backend they are small.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "configs/config.h"
#include "kernels/ops.h"
#include "model/gpt2_weights.h"
#include "model/loss_head.h"
#include "model/model.h"
#include "model/params.h"
#include "model/tensor_pool.h"
#include "parallel/comm.h"
#include "parallel/grad_sync.h"

namespace model {

class Gpt2Model : public Model {
 public:
  // See make_model (model/model.h) for the arguments.
  Gpt2Model(const configs::ModelConfig& cfg, int vocab_real, int micro_batch, const kernels::Ops& ops,
            Device device, ModelPrecision precision, parallel::Comm& tp, int zero_dp = 0);
  ~Gpt2Model() override;

  ParamArena& params() override { return *params_; }
  const configs::ModelConfig& config() const override { return cfg_; }
  int micro_batch() const override { return B_; }
  std::vector<double> token_losses() const override { return head_->token_losses(); }
  std::vector<float> logits() const override { return head_->logits_host(); }
  void backward(float scale, const std::function<void(int)>& on_bucket_ready = {}) override;
  const std::vector<parallel::ShardRange>& grad_buckets() const override { return buckets_; }

 protected:
  void forward_layers(const std::vector<int32_t>& windows, int rows) override;
  LossHead& loss_head() const override { return *head_; }

 private:
  struct Acts;
  void alloc_activations();

  configs::ModelConfig cfg_;
  int B_;
  const kernels::Ops& ops_;
  Device device_;
  ModelPrecision prec_;
  parallel::Comm& tp_;  // size 1: no tensor parallelism
  int tp_size_ = 1, tp_rank_ = 0;
  std::unique_ptr<ParamArena> params_;
  std::unique_ptr<LossHead> head_;  // batch, logits, vocab-parallel cross-entropy
  Gpt2Weights w_;  // the compute weights the ops read
  Gpt2Weights g_;  // their gradients (master dtype), the same fields
  std::vector<parallel::ShardRange> buckets_;
  std::unique_ptr<Acts> acts_;
};

}  // namespace model
