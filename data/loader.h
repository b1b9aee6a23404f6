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
// `prefetch` batches ready. Memory does not grow with the corpus except for the permutation, 4 bytes
// per window of the epoch (16 KB per 4M tokens at T = 1024), and ~100 bytes per shard file (its
// ShardInfo and index entries); on top come (prefetch + 1) batches and the open files (below).
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
  // Batches read ahead on a background thread; 0 reads inside next() (also what happens when the
  // HDF5 library was built without thread safety). Depth does not change the batches.
  int prefetch = 2;
  // Shard files kept open at once; the least recently used closes first. Each open file costs one
  // descriptor and ~0.5 MB (HDF5's per-file metadata cache; 64 files measured at 35 MB). With more
  // shards than this, random windows mostly reopen files (~40 us each, see bench/loader_bench.cpp).
  int max_open_files = 64;
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
