// model/loss_head.cpp
#include "model/loss_head.h"

#include <algorithm>

#include "kernels/check.h"
#include "kernels/host_copy.h"

namespace model {

using kernels::Device;
using kernels::DType;

LossHead::LossHead(const configs::ModelConfig& cfg, int vocab_real, int micro_batch, const kernels::Ops& ops,
                   Device device, DType act, DType stat, parallel::Comm& tp)
    : B_(micro_batch), T_(cfg.seq_len), vocab_real_(vocab_real), ops_(ops), device_(device), tp_(tp),
      staging_(device, size_t(2) * size_t(micro_batch) * size_t(cfg.seq_len) * sizeof(int32_t)) {
  const int tp_size = tp.size(), rows = cfg.vocab_size / tp_size;
  vocab_ = {tp.rank() * rows, rows, vocab_real};
  const int64_t N = int64_t(B_) * T_;
  ids_ = pool_.make(device, DType::I32, {2, N});
  tokens_ = ids_.slice_rows(0, 1).reshaped({B_, T_});
  targets_ = ids_.slice_rows(1, 1).reshaped({B_, T_});
  logits_ = pool_.make(device, act, {N, rows});
  losses_ = pool_.make(device, stat, {N});
  xent_ = {pool_.make(device, stat, {N}), pool_.make(device, stat, {2, N})};
}

void LossHead::set_batch(const std::vector<int32_t>& windows, int rows) {
  const int64_t B = B_, T = T_;
  KILN_CHECK(rows >= 0 && rows <= B_ && int64_t(windows.size()) >= int64_t(rows) * (T + 1),
             "forward: fewer windows than rows");
  int32_t* in = static_cast<int32_t*>(staging_.next());
  int32_t* tgt = in + B * T;
  std::fill(in, tgt, 0);
  std::fill(tgt, tgt + B * T, -1);
  for (int64_t b = 0; b < rows; ++b)
    for (int64_t t = 0; t < T; ++t) {
      in[b * T + t] = windows[size_t(b * (T + 1) + t)];
      tgt[b * T + t] = windows[size_t(b * (T + 1) + t + 1)];
    }
  valid_targets_ = int64_t(rows) * T;
  staging_.upload(ids_.data, size_t(2 * B * T) * sizeof(int32_t), kernels::Stream{});
}

void LossHead::forward() {
  const kernels::Stream s{};
  const kernels::Tensor targets = targets_.reshaped({int64_t(B_) * T_});
  if (tp_.size() == 1)  // fused single-pass kernel; the three-pass form below gives the same numbers
    ops_.softmax_xent(losses_, kernels::Tensor{}, logits_, targets, vocab_real_, 0.f, s);
  else
    parallel::vocab_parallel_xent_forward(ops_, tp_, losses_, logits_, targets, vocab_, xent_, s);
}

double LossHead::mean_loss() const {
  double sum = 0;
  for (double x : token_losses()) sum += x;
  return valid_targets_ ? sum / double(valid_targets_) : 0.0;
}

// The same sum in the same order on the CPU as mean_loss(), so a CPU run's losses do not change.
void LossHead::accumulate_mean(kernels::Tensor acc, double divisor) const {
  ops_.loss_mean_accumulate(acc, losses_, double(valid_targets_), divisor, kernels::Stream{});
}

void LossHead::backward(float scale) {
  const kernels::Stream s{};
  // Loss = mean over valid targets, so each token's gradient carries scale / count.
  const float dloss = valid_targets_ ? scale / float(valid_targets_) : 0.f;
  const kernels::Tensor targets = targets_.reshaped({int64_t(B_) * T_});
  if (tp_.size() == 1)
    ops_.softmax_xent(losses_, logits_, logits_, targets, vocab_real_, dloss, s);
  else
    parallel::vocab_parallel_xent_backward(ops_, losses_, logits_, logits_, targets, vocab_, xent_, dloss, s);
}

std::vector<double> LossHead::token_losses() const {
  std::vector<double> out(size_t(losses_.numel()));
  if (losses_.dtype == DType::F64) {
    kernels::copy_to_host(out.data(), losses_.data, device_, losses_.nbytes());
  } else {
    std::vector<float> tmp(out.size());
    kernels::copy_to_host(tmp.data(), losses_.data, device_, losses_.nbytes());
    std::copy(tmp.begin(), tmp.end(), out.begin());
  }
  return out;
}

std::vector<float> LossHead::logits_host() const { return kernels::copy_to_host_f32(ops_, logits_); }

}  // namespace model
