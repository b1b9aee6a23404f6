// data/loader.h
// Training and evaluation batches from token shards.
//
// A sample is seq_len+1 consecutive tokens of one shard (inputs = first seq_len, targets = last
// seq_len). Training windows start at multiples of seq_len inside each shard; an epoch visits every
// window once in an order that is a pure function of (seed, epoch), independent of the number of
// data-parallel ranks: global batch g takes the permuted windows [g*global, (g+1)*global) and rank r
// takes its contiguous micro-batch part of them (data/window_order.h has the arithmetic).
//
// The training loader streams: shards stay on disk and only the windows a rank takes are read
// (HDF5 hyperslabs through at most max_open_files open files), on a background thread that keeps
// `prefetch` batches ready. Memory is O(prefetch x batch) plus the permutation, 4 bytes per window
// of the epoch (16 KB per 4M tokens at T = 1024), plus 8 bytes and a ShardInfo per shard file.
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
  int prefetch = 2;         // batches read ahead on a background thread; 0 reads inside next()
  int max_open_files = 64;  // shard files kept open at once (least recently used closes first)
};

// Where the global sequence stands, after the batches handed out by next() (never counting
// prefetched ones). The same on every rank, and independent of dp_size: `position` counts windows
// over all ranks, so a state saved under one layout restores under another (see restore()).
struct LoaderState {
  uint64_t epoch = 0;
  uint64_t position = 0;  // windows of this epoch already handed out, counted over all ranks
};

// Not thread-safe: one thread calls next()/state()/restore() (the prefetch worker is internal).
class TrainLoader {
 public:
  // Validates every shard's attributes and the ids of its first 64Ki tokens (so a shard from the
  // wrong tokenizer fails before step 0, not hours in); the rest is checked as it is read.
  explicit TrainLoader(const LoaderOptions& opt);
  ~TrainLoader();  // stops and joins the prefetch thread
  TrainLoader(TrainLoader&&) noexcept;  // movable (e.g. one per rank in a vector), not copyable
  TrainLoader& operator=(TrainLoader&&) noexcept;
  // Fills tokens with micro_batch rows of seq_len+1 ids (size micro_batch*(seq_len+1)); the vector
  // may be swapped with a prefetched one, so pass it back each call rather than keeping pointers.
  // A bad shard found while reading (id >= vocab_size, corrupt chunk) throws InputError naming the
  // file here, on the caller's thread, after the batches before it; state() then still points at
  // the failed batch.
  void next(std::vector<int32_t>& tokens);
  LoaderState state() const;
  // Continues from `s` (discarding prefetched batches). The loader may have another dp_size (and
  // micro_batch) than the one that saved `s`: the global sequence goes on from entry
  // s.position of epoch s.epoch, split across the new ranks; with the same micro_batch*dp_size the
  // global batches are exactly those of an uninterrupted run. Every rank must restore the same s.
  // Throws InputError when s.position >= num_windows() (the data changed since).
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
