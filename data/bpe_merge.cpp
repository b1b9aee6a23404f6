// data/bpe_merge.cpp
// BpeMerges (data/bpe_merge.h): the merge table and the two ways of applying it.
//
// apply_passes() is the reference algorithm transcribed; apply_heap() is the fast one for long
// pieces. tests/data/test_bpe.cpp checks that both agree on random and adversarial inputs with the
// real GPT-2 table, which is what makes using the heap safe.
#include "data/bpe_merge.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>


namespace data {
namespace {
// Below this many symbols the quadratic passes are cheaper than building a heap.
constexpr size_t kHeapMinSymbols = 32;
}  // namespace

void BpeMerges::add(uint32_t left, uint32_t right, uint32_t merged, uint32_t rank) {
  pending_.push_back({(uint64_t{left} << 32) | right, rank, merged});
}

void BpeMerges::finish() {
  // Straight into the open-addressing table, in file order: a repeated pair overwrites its slot, so
  // it keeps its last rank. (No intermediate map: this runs on every `kiln prepare` start.)
  size_t cap = 16;
  while (cap < 2 * pending_.size()) cap *= 2;
  table_.assign(cap, Slot{kEmpty, 0, 0});
  mask_ = cap - 1;
  shift_ = 64 - __builtin_ctzll(cap);
  count_ = 0;
  uint32_t max_id = 0;
  for (const Slot& s : pending_) {
    uint64_t h = (s.key * 0x9E3779B97F4A7C15ull) >> shift_;
    while (table_[h].key != kEmpty && table_[h].key != s.key) h = (h + 1) & mask_;
    count_ += table_[h].key == kEmpty;
    table_[h] = s;
    max_id = std::max({max_id, s.merged, uint32_t(s.key >> 32), uint32_t(s.key)});
  }
  // monotone: each merge ranks after every merge producing its left or right part.
  std::vector<int64_t> produced_at(size_t(max_id) + 1, -1);  // highest rank producing each id
  for (const Slot& s : table_) {
    if (s.key == kEmpty) continue;
    int64_t& p = produced_at[s.merged];
    p = std::max<int64_t>(p, s.rank);
  }
  monotone_ = true;
  for (const Slot& s : table_) {
    if (s.key == kEmpty) continue;
    if (int64_t(s.rank) <= produced_at[s.key >> 32] || int64_t(s.rank) <= produced_at[s.key & 0xFFFFFFFFu]) {
      monotone_ = false;
    }
  }
  pending_.clear();
  pending_.shrink_to_fit();
}

void BpeMerges::apply(std::vector<uint32_t>& ids) const {
  if (ids.size() >= kHeapMinSymbols && monotone_) {
    apply_heap(ids);
  } else {
    apply_passes(ids);
  }
}

void BpeMerges::apply_passes(std::vector<uint32_t>& ids) const {
  while (ids.size() >= 2) {
    // The lowest-ranked adjacent pair. Ranks are unique per pair, so which occurrence is found
    // first does not matter.
    const Slot* best = nullptr;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const Slot* s = find(ids[i], ids[i + 1]);
      if (s != nullptr && (best == nullptr || s->rank < best->rank)) best = s;
    }
    if (best == nullptr) return;
    const uint32_t left = uint32_t(best->key >> 32), right = uint32_t(best->key), merged = best->merged;
    // One left-to-right pass merging every non-overlapping occurrence ("aaa" -> "aa", "a").
    size_t w = 0;
    for (size_t i = 0; i < ids.size();) {
      if (i + 1 < ids.size() && ids[i] == left && ids[i + 1] == right) {
        ids[w++] = merged;
        i += 2;
      } else {
        ids[w++] = ids[i++];
      }
    }
    ids.resize(w);
  }
}

void BpeMerges::apply_heap(std::vector<uint32_t>& ids) const {
  const size_t n = ids.size();
  if (n < 2) return;
  // Symbols stay at their original index; next/prev link the live ones. A merge keeps the left
  // index, so index order is text order and the heap's tie-break on position is "leftmost first",
  // which is what one left-to-right pass of the reference does for equal ranks.
  constexpr uint32_t kNone = ~uint32_t{0};
  std::vector<uint32_t> next(n), prev(n);
  for (size_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? uint32_t(i + 1) : kNone;
    prev[i] = i > 0 ? uint32_t(i - 1) : kNone;
  }
  using Entry = std::pair<uint32_t, uint32_t>;  // (rank, left position)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  const auto push = [&](uint32_t pos) {
    if (pos == kNone || next[pos] == kNone) return;
    if (const Slot* s = find(ids[pos], ids[next[pos]])) heap.push({s->rank, pos});
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    const auto [rank, pos] = heap.top();
    heap.pop();
    // Stale entries: the left symbol was absorbed, or its pair changed since the push. Equal rank
    // means the same pair, so a surviving entry is always valid to apply.
    if (dead[pos] || next[pos] == kNone) continue;
    const Slot* s = find(ids[pos], ids[next[pos]]);
    if (s == nullptr || s->rank != rank) continue;
    const uint32_t gone = next[pos];
    ids[pos] = s->merged;
    dead[gone] = true;
    next[pos] = next[gone];
    if (next[gone] != kNone) prev[next[gone]] = pos;
    // New pairs rank above `rank` (monotone), so they cannot jump ahead of equal-rank work.
    push(prev[pos]);
    push(pos);
  }
  size_t w = 0;
  for (uint32_t i = 0; i != kNone; i = next[i]) ids[w++] = ids[i];
  ids.resize(w);
}

}  // namespace data
