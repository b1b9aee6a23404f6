// model/model.h
// The one interface training and inference see, whatever the architecture: a decoder-only language
// model with explicit forward and backward passes over the op table (no autograd), its parameter
// arena, and the order in which backward finishes its gradients. make_model() picks the
// architecture from model.arch: GPT-2 (model/gpt2.h) or Llama (model/llama.h).
//
// Both are tensor-parallel through parallel/ (the Megatron column/row split, vocab-parallel
// embedding and cross-entropy); with a tp group of one that is all identities.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "configs/config.h"
#include "kernels/ops.h"
#include "model/params.h"
#include "parallel/comm.h"
#include "parallel/grad_sync.h"

namespace model {

class LossHead;

struct ModelPrecision {
  DType compute = DType::F32;  // activations and the weights the matmuls read
  DType master = DType::F32;   // master weights and gradients (fp64 only in gradient checks)
};

class Model {
 public:
  virtual ~Model() = default;

  virtual ParamArena& params() = 0;
  virtual const configs::ModelConfig& config() const = 0;
  virtual int micro_batch() const = 0;

  // windows: B rows of T+1 token ids on the host (inputs = first T, targets = last T). Rows past
  // `rows` (a short last eval batch) are ignored. Returns the mean loss over the valid targets, read
  // to the host (on a GPU a host sync: evaluation, tests and rare paths).
  double forward(const std::vector<int32_t>& windows, int rows = -1);
  // The training step's forward over B full rows: the same pass, its loss left on the device:
  // loss_acc ((1) fp64 on the model's device) += mean loss / divisor. Reads nothing to the host.
  void forward_accumulate(const std::vector<int32_t>& windows, kernels::Tensor loss_acc, double divisor);
  // The mean loss of the last forward, read to the host (the replay check's rare path).
  double last_loss() const;
  // Per-token losses (B*T, nats) of the last forward, copied to the host; invalid rows hold 0.
  virtual std::vector<double> token_losses() const = 0;
  // Logits (B*T, V/tp: this rank's vocab columns, padding included) of the last forward, as fp32 on
  // the host: what tests compare generation against.
  virtual std::vector<float> logits() const = 0;
  // Accumulates d(scale * mean loss)/d(params) into the gradients. Needs the preceding forward.
  // on_bucket_ready(k), when given, is called as soon as gradient bucket k (grad_buckets()) holds
  // its final contribution from this backward pass: the hook data parallelism overlaps with.
  virtual void backward(float scale, const std::function<void(int)>& on_bucket_ready = {}) = 0;
  // Contiguous ranges of the flat gradient arena in the order backward completes them: the final
  // norm and lm_head, then layers L-1 .. 0, then the embeddings (which a tied head touches last).
  virtual const std::vector<parallel::ShardRange>& grad_buckets() const = 0;

 protected:
  // The architecture's layers from the batch to loss_head().forward(): the per-token losses on the
  // device, nothing read back.
  virtual void forward_layers(const std::vector<int32_t>& windows, int rows) = 0;
  virtual LossHead& loss_head() const = 0;
};

// The parameter list of model.arch (gpt2_param_specs or llama_param_specs).
std::vector<ParamSpec> param_specs(const configs::ModelConfig& m, int vocab_real);

// The model of cfg.arch. tp: the tensor-parallel group (a SelfComm without tensor parallelism); it
// must outlive the model. zero_dp > 1: the arena is laid out for ZeRO-1 over that many dp ranks
// (length padded, moments left to the optimizer). Weights are not initialised (params().init()).
std::unique_ptr<Model> make_model(const configs::ModelConfig& cfg, int vocab_real, int micro_batch,
                                  const kernels::Ops& ops, Device device, ModelPrecision precision, parallel::Comm& tp,
                                  int zero_dp = 0);

// grad_buckets() from the arena's layout: ParamSpec::layer says where each layer's parameters are.
// Parameters must come as [embeddings][layer 0]..[layer L-1][final norm, head].
std::vector<parallel::ShardRange> grad_buckets_by_layer(const ParamArena& params, int n_layer);

}  // namespace model
