// data/bpe_merge.h
// The merge step of byte-level BPE on token ids: a table (left id, right id) -> (rank, merged id)
// read from vocab.bpe, and the rule GPT-2 applies to one pre-token: repeatedly take the adjacent
// pair with the lowest rank and merge every occurrence of it, left to right, until no adjacent
// pair is in the table.
//
// Called by data/tokenizer_gpt2.cpp (one apply() per pre-token that misses its cache). Knows
// nothing of strings, bytes or files; ids are whatever the tokenizer gives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace data {

class BpeMerges {
 public:
  // rank = merge order (0 first). A pair added twice keeps the last rank, as both reference
  // encoders do (their rank table is a dict/object filled in file order).
  void add(uint32_t left, uint32_t right, uint32_t merged, uint32_t rank);
  // Builds the lookup table; call once after the last add().
  void finish();

  size_t size() const { return count_; }
  // True when every merge ranks after every merge that produces one of its two parts (true of
  // GPT-2's file: a token is always built before it is used). Then merging in one global
  // (rank, position) order, as apply_heap() does, gives exactly GPT-2's result.
  bool monotone() const { return monotone_; }

  // Merges `ids` in place. Short pieces (the common case) use apply_passes(); long ones, such as
  // a run of thousands of letters with no space, use apply_heap() when monotone(), so a
  // pathological input costs O(n log n) instead of O(n^2).
  void apply(std::vector<uint32_t>& ids) const;

  // GPT-2's algorithm as written in the reference (one pass per merge applied). Exact always.
  void apply_passes(std::vector<uint32_t>& ids) const;
  // Linked symbols and a min-heap of (rank, position); exact when monotone(). Public for tests.
  void apply_heap(std::vector<uint32_t>& ids) const;

 private:
  struct Slot {
    uint64_t key;  // (left << 32) | right; kEmpty when unused
    uint32_t rank;
    uint32_t merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  const Slot* find(uint32_t left, uint32_t right) const {
    const uint64_t key = (uint64_t{left} << 32) | right;
    // Fibonacci hashing into a power-of-two table with linear probing; load factor <= 1/2.
    for (uint64_t i = (key * 0x9E3779B97F4A7C15ull) >> shift_;; i = (i + 1) & mask_) {
      const Slot& s = table_[i];
      if (s.key == key) return &s;
      if (s.key == kEmpty) return nullptr;
    }
  }

  std::vector<Slot> pending_;  // add() order, until finish()
  std::vector<Slot> table_;
  uint64_t mask_ = 0;
  int shift_ = 64;
  size_t count_ = 0;
  bool monotone_ = false;
};

}  // namespace data
