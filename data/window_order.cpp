// data/window_order.cpp
// The epoch permutation (Fisher-Yates driven by counter-based hashes) and window -> shard lookup.
//
// Called by the training loader's producer. The permutation algorithm is part of the data contract
// in practice: a checkpoint's loader state (epoch, position) only resumes the same data if the
// same (seed, epoch) gives the same order, so changing it breaks resuming old runs.
#include "data/window_order.h"

#include <algorithm>
#include <string>

#include "data/loader.h"
#include "kernels/check.h"
#include "kernels/rng.h"

namespace data {

WindowOrder::WindowOrder(const std::vector<int64_t>& shard_tokens, int seq_len, uint64_t seed,
                         const std::string& pattern)
    : seq_len_(seq_len), seed_(seed) {
  // The tail that does not fill a window is never trained on (at most T ids per shard).
  first_window_.reserve(shard_tokens.size() + 1);
  first_window_.push_back(0);
  for (const int64_t n : shard_tokens) {
    const int64_t w = n > 0 ? (n - 1) / seq_len : 0;
    first_window_.push_back(first_window_.back() + w);
  }
  windows_ = first_window_.back();
  if (windows_ == 0) {
    throw kernels::InputError("data pattern " + pattern + ": no training windows, the shards have "
                              "fewer than seq_len+1 = " + std::to_string(seq_len + 1) +
                              " tokens each (expected more data or a smaller seq_len)");
  }
  if (windows_ > int64_t(std::numeric_limits<uint32_t>::max())) {
    throw kernels::InputError("data pattern " + pattern + ": " + std::to_string(windows_) +
                              " windows per epoch, more than this loader supports (2^32-1)");
  }
}

WindowRef WindowOrder::locate(int64_t w) const {
  // Shards without windows have first_window[s] == first_window[s+1]; upper_bound skips them.
  const auto it = std::upper_bound(first_window_.begin(), first_window_.end(), w);
  const int s = int(it - first_window_.begin()) - 1;
  return {s, (w - first_window_[size_t(s)]) * seq_len_};
}

int64_t WindowOrder::window_at(uint64_t epoch, uint64_t index) {
  return int64_t(permutation(epoch)[size_t(index)]);
}

// Element i's swap partner is a pure function of (seed, epoch, i), so every rank, and every resume,
// builds the same order without talking. uint32 entries keep it at 4 bytes per window.
const std::vector<uint32_t>& WindowOrder::permutation(uint64_t epoch) {
  if (epoch == perm_epoch_) return perm_;
  perm_.resize(size_t(windows_));
  for (int64_t i = 0; i < windows_; ++i) perm_[size_t(i)] = uint32_t(i);
  const uint64_t key = kernels::mix(seed_, kernels::Purpose::kShuffle, epoch);
  for (int64_t i = windows_ - 1; i > 0; --i) {
    auto j = int64_t(kernels::uniform01(key, uint64_t(i)) * double(i + 1));
    j = std::min(j, i);  // guards the (theoretical) rounding of u*(i+1) up to i+1
    std::swap(perm_[size_t(i)], perm_[size_t(j)]);
  }
  perm_epoch_ = epoch;
  return perm_;
}

LoaderState advance(const LoaderState& s, uint64_t n, uint64_t windows) {
  const uint64_t k = s.position + n;
  return LoaderState{s.epoch + k / windows, k % windows};
}

}  // namespace data
