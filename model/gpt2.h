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
#include "parallel/comm.h"
#include "parallel/grad_sync.h"
#include "parallel/tp_vocab.h"
#include "model/gpt2_weights.h"
#include "model/params.h"

namespace model {

struct ModelPrecision {
  DType compute = DType::F32;  // activations and the weights the matmuls read
  DType master = DType::F32;   // master weights and gradients (fp64 only in gradient checks)
};

class Gpt2Model {
 public:
  // tp: the tensor-parallel group (a SelfComm without tensor parallelism). It must outlive the model.
  // zero_dp > 1: the arena is laid out for ZeRO-1 over that many dp ranks (length padded, moments
  // left to the optimizer).
  Gpt2Model(const configs::ModelConfig& cfg, int vocab_real, int micro_batch, const kernels::Ops& ops,
            Device device, ModelPrecision precision, parallel::Comm& tp, int zero_dp = 0);
  ~Gpt2Model();

  ParamArena& params() { return *params_; }
  const configs::ModelConfig& config() const { return cfg_; }
  int micro_batch() const { return B_; }

  // windows: B rows of T+1 token ids on the host (inputs = first T, targets = last T). Rows past
  // `rows` (a short last eval batch) are ignored. Returns the mean loss over the valid targets.
  double forward(const std::vector<int32_t>& windows, int rows = -1);
  // Per-token losses (B*T, nats) of the last forward, copied to the host; invalid rows hold 0.
  std::vector<double> token_losses() const;
  // Logits (B*T, V/tp: this rank's vocab columns, padding included) of the last forward, as fp32 on
  // the host: what tests compare generation against.
  std::vector<float> logits() const;
  // Accumulates d(scale * mean loss)/d(params) into the gradients. Needs the preceding forward.
  // on_bucket_ready(k), when given, is called as soon as gradient bucket k (grad_buckets()) holds
  // its final contribution from this backward pass: the hook data parallelism overlaps with.
  void backward(float scale, const std::function<void(int)>& on_bucket_ready = {});
  // Contiguous ranges of the flat gradient arena in the order backward completes them: ln_f and
  // lm_head, then layers L-1 .. 0, then the embeddings (wte, wpe, which tied heads touch last).
  const std::vector<parallel::ShardRange>& grad_buckets() const { return buckets_; }

 private:
  struct Acts;
  void alloc_activations();
  std::vector<parallel::ShardRange> make_grad_buckets() const;

  configs::ModelConfig cfg_;
  int vocab_real_, B_;
  const kernels::Ops& ops_;
  Device device_;
  ModelPrecision prec_;
  parallel::Comm& tp_;  // size 1: no tensor parallelism
  int tp_size_ = 1, tp_rank_ = 0;
  parallel::VocabShard vocab_;
  parallel::XentStats xent_;  // from the last forward, reused by backward
  std::unique_ptr<ParamArena> params_;
  Gpt2Weights w_;  // the compute weights the ops read
  Gpt2Weights g_;  // their gradients (master dtype), the same fields
  std::vector<parallel::ShardRange> buckets_;
  std::unique_ptr<Acts> acts_;
  int64_t valid_targets_ = 0;
};

}  // namespace model
