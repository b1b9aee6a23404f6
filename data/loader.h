// data/loader.h
// Training and evaluation batches from token shards.
//
// A sample is seq_len+1 consecutive tokens of one shard (inputs = first seq_len, targets = last
// seq_len). Training windows start at multiples of seq_len inside each shard; an epoch visits every
// window once in an order that is a pure function of (seed, epoch), independent of the number of
// data-parallel ranks: global batch g takes the permuted windows [g*global, (g+1)*global) and rank r
// takes its contiguous micro-batch part of them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"

namespace data {

struct LoaderOptions {
  std::string pattern;   // glob of shard files
  int seq_len = 1024;
  int micro_batch = 16;  // sequences this rank takes per next()
  uint64_t seed = 1337;
  int dp_rank = 0, dp_size = 1;
};

struct LoaderState {
  uint64_t epoch = 0;
  uint64_t position = 0;  // windows of this epoch already handed out, counted over all ranks
};

class TrainLoader {
 public:
  explicit TrainLoader(const LoaderOptions& opt);
  ~TrainLoader();
  TrainLoader(TrainLoader&&) noexcept;  // movable (e.g. one per rank in a vector), not copyable
  TrainLoader& operator=(TrainLoader&&) noexcept;
  // Fills tokens with micro_batch rows of seq_len+1 ids (size micro_batch*(seq_len+1)).
  void next(std::vector<int32_t>& tokens);
  LoaderState state() const;
  void restore(const LoaderState& s);
  int vocab_size() const;       // from the shards (all must agree)
  int64_t num_windows() const;  // windows per epoch
  const std::vector<ShardInfo>& shards() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Consecutive, non-overlapping windows of seq_len+1 tokens from the start of the shards, in file
// order, up to max_sequences (all of them if fewer; a negative max_sequences means all). Used by the
// evaluator and `kiln eval`. Throws InputError naming the pattern when no shard holds seq_len+1 ids.
std::vector<std::vector<int32_t>> read_eval_windows(const std::string& pattern, int seq_len,
                                                    int64_t max_sequences);

}  // namespace data
