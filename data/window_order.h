// data/window_order.h
// Which training window comes next: the epoch permutation over all (shard, window) pairs and the
// arithmetic of a loader position. Pure bookkeeping over window indices, no I/O.
//
// Called by TrainLoader (data/loader.cpp) on whichever thread produces batches, and by tests that
// need the order without reading shards. Does not know about ranks beyond "entry k of the global
// sequence": which entries a rank takes is the loader's business.
//
// Notation: T = seq_len; shard s with n_s ids holds (n_s-1)/T windows starting at multiples of T
// (the last window needs one id past its T inputs); W = sum over shards = windows per epoch; global
// window w numbers the windows of shard 0 first, then shard 1, ... in file order.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace data {

struct LoaderState;

// A window as the reader needs it: which shard, and the index of its first id there.
struct WindowRef {
  int shard = 0;
  int64_t start = 0;
};

class WindowOrder {
 public:
  // shard_tokens[s] = ids in shard s. Throws InputError when W == 0 or W >= 2^32 (`pattern` names
  // the data in the message).
  WindowOrder(const std::vector<int64_t>& shard_tokens, int seq_len, uint64_t seed, const std::string& pattern);

  int64_t num_windows() const { return windows_; }   // W
  WindowRef locate(int64_t w) const;                 // global window -> (shard, first id)

  // Entry `index` (< W) of epoch `epoch`'s permutation: a pure function of (seed, epoch, index).
  // Caches the last epoch's permutation (4 bytes per window), so not thread-safe: one producer.
  int64_t window_at(uint64_t epoch, uint64_t index);

 private:
  const std::vector<uint32_t>& permutation(uint64_t epoch);

  int seq_len_;
  uint64_t seed_;
  std::vector<int64_t> first_window_;  // size S+1: global index of shard s's first window
  int64_t windows_ = 0;
  uint64_t perm_epoch_ = std::numeric_limits<uint64_t>::max();
  std::vector<uint32_t> perm_;
};

// The global sequence is the epoch permutations laid end to end. A position (epoch, position) is
// "entry `position` of epoch `epoch`"; n entries later is epoch + (position+n)/W at (position+n)%W,
// which also covers a global batch larger than a whole epoch.
LoaderState advance(const LoaderState& s, uint64_t n, uint64_t windows);

}  // namespace data
