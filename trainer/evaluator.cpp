// trainer/evaluator.cpp
#include "trainer/evaluator.h"

#include <cmath>
#include <filesystem>

#include "data/loader.h"
#include "data/tokenizer.h"
#include "kernels/check.h"

namespace trainer {

Evaluator::Evaluator(const std::string& pattern, int seq_len, int micro_batch, int batches)
    : seq_len_(seq_len), micro_batch_(micro_batch) {
  windows_ = data::read_eval_windows(pattern, seq_len, batches < 0 ? -1 : int64_t(batches) * micro_batch);
  KILN_REQUIRE_INPUT(!windows_.empty(), "data.val: '" + pattern + "' holds no window of seq_len+1 = " +
                                            std::to_string(seq_len + 1) + " tokens");
  const std::string tok_dir = data::shard_tokenizer_dir(pattern);
  KILN_REQUIRE_INPUT(!tok_dir.empty(), "data: no tokenizer/ folder beside the shards of '" + pattern +
                                           "' (kiln prepare writes one; bits per byte needs it)");
  const auto tok = data::load_tokenizer(tok_dir);
  token_bytes_.resize(size_t(tok->vocab_size()));
  for (int i = 0; i < tok->vocab_size(); ++i) token_bytes_[size_t(i)] = tok->token_bytes(uint32_t(i));
}

EvalResult Evaluator::run(model::Model& model, parallel::Comm& dp) const {
  const int B = micro_batch_, T = seq_len_;
  const int dp_size = dp.size(), dp_rank = dp.rank();
  double sum_nats = 0;
  int64_t tokens = 0, bytes = 0;
  std::vector<int32_t> batch(size_t(B) * (T + 1));
  for (size_t first = size_t(dp_rank) * B; first < windows_.size(); first += size_t(B) * dp_size) {
    const int rows = int(std::min(windows_.size() - first, size_t(B)));
    for (int r = 0; r < rows; ++r) std::copy(windows_[first + r].begin(), windows_[first + r].end(), batch.begin() + r * (T + 1));
    model.forward(batch, rows);
    const std::vector<double> losses = model.token_losses();
    for (int r = 0; r < rows; ++r)
      for (int t = 0; t < T; ++t) {
        sum_nats += losses[size_t(r * T + t)];
        const int32_t target = windows_[first + r][size_t(t + 1)];
        bytes += target < int32_t(token_bytes_.size()) ? token_bytes_[size_t(target)] : 0;
        ++tokens;
      }
  }
  if (dp_size > 1) {
    // fp64 sums (counts stay exact far beyond any eval set); on the device for NCCL groups.
    double sums[3] = {sum_nats, double(tokens), double(bytes)};
    const kernels::Device dev = model.params().device();
    kernels::OwnedTensor t(dev, kernels::DType::F64, {3});
    kernels::copy_from_host(t.t.data, dev, sums, sizeof sums);
    dp.all_reduce(t.t, parallel::ReduceOp::kSum, {});
    kernels::copy_to_host(sums, t.t.data, dev, sizeof sums);
    sum_nats = sums[0];
    tokens = int64_t(sums[1]);
    bytes = int64_t(sums[2]);
  }
  return formats::summarize_eval(sum_nats, tokens, bytes);
}

}  // namespace trainer
