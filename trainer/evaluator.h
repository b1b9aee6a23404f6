// trainer/evaluator.h
// Held-out loss, perplexity and bits per byte (CONTRACTS §3).
//   loss       mean next-token cross-entropy in nats over the evaluated targets
//   perplexity exp(loss)
//   bits/byte  (sum of nats) / (ln 2 * bytes of text the target tokens stand for)
// The windows are read once (consecutive, non-overlapping, from the start of the val shards) and
// reused at every evaluation, so successive numbers are comparable. Under data parallelism each dp
// rank evaluates every dp-th micro-batch and the sums are all-reduced: the same numbers as one rank
// (up to summation order), in 1/dp of the time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/records.h"
#include "model/gpt2.h"
#include "parallel/comm.h"

namespace trainer {

using formats::EvalResult;

class Evaluator {
 public:
  // pattern: val shard glob; the tokenizer is read from the first shard's folder (tokenizer/).
  // batches < 0: every window of the shards.
  Evaluator(const std::string& pattern, int seq_len, int micro_batch, int batches);
  // dp: the data-parallel group (a group of one for a single rank). Every rank of it must call run.
  EvalResult run(model::Gpt2Model& model, parallel::Comm& dp) const;
  int64_t sequences() const { return int64_t(windows_.size()); }

 private:
  int seq_len_, micro_batch_;
  std::vector<std::vector<int32_t>> windows_;
  std::vector<int> token_bytes_;  // bytes of text per token id
};

}  // namespace trainer
