// model/loss_head.h
// What every architecture's forward and backward share around its layers: the batch (host windows ->
// device inputs and shifted targets), the vocab-parallel cross-entropy of the logits (the fused
// single-pass kernel without tensor parallelism), and reading per-token losses and logits back.
// Owned by Gpt2Model and LlamaModel; their layers write logits() and read tokens().
//
// B micro-batch, T seq_len, Vl = V/tp this rank's vocab columns.
#pragma once

#include <cstdint>
#include <vector>

#include "configs/config.h"
#include "kernels/ops.h"
#include "model/tensor_pool.h"
#include "parallel/comm.h"
#include "parallel/tp_vocab.h"

namespace model {

class LossHead {
 public:
  // act: the compute dtype (logits); stat: fp32, or fp64 in fp64 runs (losses, softmax statistics).
  LossHead(const configs::ModelConfig& cfg, int vocab_real, int micro_batch, const kernels::Ops& ops,
           kernels::Device device, kernels::DType act, kernels::DType stat, parallel::Comm& tp);

  // Splits B rows of T+1 ids into inputs and shifted targets on the device (one upload of both,
  // queued from pinned memory: the host does not wait for it);
  // rows past `rows` get token 0 and target -1 (ignored by the loss), so a short last eval batch
  // needs no special path.
  void set_batch(const std::vector<int32_t>& windows, int rows);
  kernels::Tensor tokens() const { return tokens_; }  // (B,T) int32
  kernels::Tensor logits() const { return logits_; }  // (B*T, Vl): the layers write it; backward
                                                      // overwrites it with dlogits
  const parallel::VocabShard& vocab() const { return vocab_; }

  // Losses of logits() against the targets, left on the device.
  void forward();
  // The mean of the last forward's losses over the valid targets, read to the host (a host sync on a
  // GPU: evaluation, tests and rare paths; the training step uses accumulate_mean).
  double mean_loss() const;
  // acc ((1) fp64 on the device) += mean_loss() / divisor, without the host (ops: loss_mean_accumulate).
  void accumulate_mean(kernels::Tensor acc, double divisor) const;
  // dlogits = d(scale * mean loss)/d logits, in place of logits(). Needs the preceding forward.
  void backward(float scale);

  std::vector<double> token_losses() const;   // (B*T) nats; invalid rows 0
  std::vector<float> logits_host() const;     // (B*T, Vl) fp32

 private:
  int B_, T_, vocab_real_;
  const kernels::Ops& ops_;
  kernels::Device device_;
  parallel::Comm& tp_;
  parallel::VocabShard vocab_;
  TensorPool pool_;
  kernels::Tensor ids_;               // (2, B*T) int32: inputs, then targets (one upload)
  kernels::Tensor tokens_, targets_;  // (B,T) int32 views of ids_
  kernels::UploadStaging staging_;    // the host side of that upload: queued, the host does not wait
  kernels::Tensor logits_;            // (B*T, Vl)
  kernels::Tensor losses_;            // (B*T)
  parallel::XentStats xent_;          // from the last forward, reused by backward
  int64_t valid_targets_ = 0;
};

}  // namespace model
