// model/llama.h
// Llama with explicit forward and backward passes over the op table (no autograd).
//
// Pre-RMSNorm blocks; rotary position embedding on q and k (Hugging Face's rotate-half layout, no
// learned positions); grouped-query attention (NKV key/value heads shared by NH/NKV query heads
// each); SwiGLU MLP; no biases; untied lm_head by default. The residual add in front of every
// RMSNorm is fused into it (residual_rmsnorm_forward). The vocabulary is padded as in GPT-2.
//
// B micro-batch, T seq_len, C d_model, NH, NKV heads, hs = C/NH, F d_ff, L layers, V padded vocab,
// tp the tensor-parallel degree: this rank holds NH/tp query heads, NKV/tp key/value heads, F/tp
// SwiGLU units and V/tp vocab rows (q|k|v and gate|up column-parallel, o and down row-parallel,
// parallel/tp_mappings.h); the residual stream (B,T,C) is replicated. Activations are kept for every
// layer (no recomputation).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "configs/config.h"
#include "kernels/ops.h"
#include "model/llama_weights.h"
#include "model/loss_head.h"
#include "model/model.h"
#include "model/params.h"
#include "parallel/comm.h"
#include "parallel/grad_sync.h"

namespace model {

class LlamaModel : public Model {
 public:
  // See make_model (model/model.h) for the arguments.
  LlamaModel(const configs::ModelConfig& cfg, int vocab_real, int micro_batch, const kernels::Ops& ops, Device device,
             ModelPrecision precision, parallel::Comm& tp, int zero_dp = 0);
  ~LlamaModel() override;

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
  int tp_size_ = 1;
  int heads_ = 0, kv_heads_ = 0;  // this rank's query and key/value heads
  float eps_ = 0, theta_ = 0;     // RMSNorm epsilon, RoPE base
  std::unique_ptr<ParamArena> params_;
  std::unique_ptr<LossHead> head_;  // batch, logits, vocab-parallel cross-entropy
  LlamaWeights w_;  // the compute weights the ops read
  LlamaWeights g_;  // their gradients (master dtype), the same fields
  std::vector<parallel::ShardRange> buckets_;
  std::unique_ptr<Acts> acts_;
};

}  // namespace model
