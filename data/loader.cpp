// data/loader.cpp
// TrainLoader (shuffled training windows for one data-parallel rank) and read_eval_windows()
// (consecutive evaluation windows), both over the shards a glob names.
//
// Called by the trainer (next() per micro-step, state()/restore() around checkpoints), by the
// evaluator and `kiln eval` (read_eval_windows). Does not prefetch or stream yet: each shard's ids
// are read and validated once at construction and kept in memory. Everything that decides *which*
// window comes next only uses window indices, so a later streaming version changes copy_window()
// and nothing else.
//
// Notation: T = seq_len, a window is T+1 ids starting at a multiple of T inside one shard; W is the
// number of windows in an epoch over all shards; G = micro_batch * dp_size windows per global batch.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "data/loader.h"
#include "kernels/check.h"
#include "kernels/rng.h"

namespace data {
namespace {

void require_option(bool ok, const std::string& what) {
  if (!ok) throw kernels::InputError("data loader: " + what);
}

std::vector<ShardInfo> open_shards(const std::string& pattern) {
  std::vector<ShardInfo> infos;
  for (const std::string& f : expand_glob(pattern)) infos.push_back(read_shard_info(f));
  // Ids only mean the same thing under the same tokenizer; mixing would train on noise.
  const ShardInfo& first = infos.front();
  for (const ShardInfo& s : infos) {
    if (s.vocab_size != first.vocab_size) {
      throw kernels::InputError("shard " + s.path + " has vocab_size " + std::to_string(s.vocab_size) +
                                " but shard " + first.path + " has " + std::to_string(first.vocab_size) +
                                "; all shards matching " + pattern + " must agree");
    }
    if (s.tokenizer != first.tokenizer) {
      throw kernels::InputError("shard " + s.path + " was made with tokenizer " + s.tokenizer +
                                " but shard " + first.path + " with " + first.tokenizer +
                                "; all shards matching " + pattern + " must agree");
    }
  }
  return infos;
}

}  // namespace

struct TrainLoader::Impl {
  LoaderOptions opt;
  std::vector<ShardInfo> infos;
  std::vector<std::vector<int32_t>> ids;  // ids[s]: all of shard s (validated < vocab_size)
  std::vector<int64_t> first_window;      // size S+1: global index of shard s's first window
  int64_t windows = 0;                    // W
  LoaderState st;

  // Permutation of [0, W) for one epoch, cached because consecutive next() calls share it. uint32
  // keeps it at 4 bytes per window (W < 2^32 is checked).
  uint64_t perm_epoch = std::numeric_limits<uint64_t>::max();
  std::vector<uint32_t> perm;

  // Fisher-Yates driven by counter-based hashes: element i's swap partner is a pure function of
  // (seed, epoch, i), so every rank, and every resume, builds the same order without talking.
  const std::vector<uint32_t>& permutation(uint64_t epoch) {
    if (epoch == perm_epoch) return perm;
    perm.resize(size_t(windows));
    for (int64_t i = 0; i < windows; ++i) perm[size_t(i)] = uint32_t(i);
    const uint64_t key = kernels::mix(opt.seed, kernels::Purpose::kShuffle, epoch);
    for (int64_t i = windows - 1; i > 0; --i) {
      auto j = int64_t(kernels::uniform01(key, uint64_t(i)) * double(i + 1));
      j = std::min(j, i);  // guards the (theoretical) rounding of u*(i+1) up to i+1
      std::swap(perm[size_t(i)], perm[size_t(j)]);
    }
    perm_epoch = epoch;
    return perm;
  }

  // Global window w -> its T+1 ids. The only function that touches token storage.
  void copy_window(int64_t w, int32_t* dst) const {
    const auto it = std::upper_bound(first_window.begin(), first_window.end(), w);
    const size_t s = size_t(it - first_window.begin()) - 1;
    const int64_t start = (w - first_window[s]) * opt.seq_len;
    std::memcpy(dst, ids[s].data() + start, sizeof(int32_t) * size_t(opt.seq_len + 1));
  }
};

TrainLoader::TrainLoader(const LoaderOptions& opt) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.opt = opt;
  require_option(opt.seq_len >= 1, "seq_len " + std::to_string(opt.seq_len) + " must be >= 1");
  require_option(opt.micro_batch >= 1, "micro_batch " + std::to_string(opt.micro_batch) + " must be >= 1");
  require_option(opt.dp_size >= 1 && opt.dp_rank >= 0 && opt.dp_rank < opt.dp_size,
                 "dp_rank " + std::to_string(opt.dp_rank) + " must lie in [0, dp_size " +
                     std::to_string(opt.dp_size) + ")");
  m.infos = open_shards(opt.pattern);

  // A shard of n ids holds (n-1)/T windows: the last window needs one id past its T inputs. The
  // tail that does not fill a window is never trained on (at most T ids per shard).
  m.first_window.push_back(0);
  for (const ShardInfo& s : m.infos) {
    m.ids.push_back(read_tokens(s, 0, s.num_tokens));
    const int64_t w = s.num_tokens > 0 ? (s.num_tokens - 1) / opt.seq_len : 0;
    m.first_window.push_back(m.first_window.back() + w);
  }
  m.windows = m.first_window.back();
  if (m.windows == 0) {
    throw kernels::InputError("data pattern " + opt.pattern + ": no training windows, the shards have "
                              "fewer than seq_len+1 = " + std::to_string(opt.seq_len + 1) +
                              " tokens each (expected more data or a smaller seq_len)");
  }
  if (m.windows > int64_t(std::numeric_limits<uint32_t>::max())) {
    throw kernels::InputError("data pattern " + opt.pattern + ": " + std::to_string(m.windows) +
                              " windows per epoch, more than this loader supports (2^32-1)");
  }
}

TrainLoader::~TrainLoader() = default;
TrainLoader::TrainLoader(TrainLoader&&) noexcept = default;
TrainLoader& TrainLoader::operator=(TrainLoader&&) noexcept = default;

void TrainLoader::next(std::vector<int32_t>& tokens) {
  Impl& m = *impl_;
  const int64_t row = m.opt.seq_len + 1;
  const uint64_t micro = uint64_t(m.opt.micro_batch);
  const uint64_t W = uint64_t(m.windows);
  const uint64_t G = micro * uint64_t(m.opt.dp_size);
  tokens.resize(size_t(micro * uint64_t(row)));
  // This rank's rows are entries [position + rank*micro, ... + micro) of the endless sequence of
  // epoch permutations laid end to end. Counting from the current epoch's start makes the
  // rollover seamless: entry k lives in epoch `epoch + k / W` at index k % W (a global batch larger
  // than W simply spans several epochs).
  for (uint64_t r = 0; r < micro; ++r) {
    const uint64_t k = m.st.position + uint64_t(m.opt.dp_rank) * micro + r;
    const uint32_t w = m.permutation(m.st.epoch + k / W)[size_t(k % W)];
    m.copy_window(int64_t(w), tokens.data() + r * uint64_t(row));
  }
  // Every rank advances by the whole global batch, so all ranks keep the same state.
  const uint64_t k = m.st.position + G;
  m.st.epoch += k / W;
  m.st.position = k % W;
}

LoaderState TrainLoader::state() const { return impl_->st; }

void TrainLoader::restore(const LoaderState& s) {
  if (s.position >= uint64_t(impl_->windows)) {
    throw kernels::InputError("data loader state: position " + std::to_string(s.position) +
                              " is past the " + std::to_string(impl_->windows) + " windows per epoch of " +
                              impl_->opt.pattern + "; the training data changed since it was saved");
  }
  impl_->st = s;
}

int TrainLoader::vocab_size() const { return impl_->infos.front().vocab_size; }
int64_t TrainLoader::num_windows() const { return impl_->windows; }
const std::vector<ShardInfo>& TrainLoader::shards() const { return impl_->infos; }

std::vector<std::vector<int32_t>> read_eval_windows(const std::string& pattern, int seq_len,
                                                    int64_t max_sequences) {
  if (seq_len < 1) throw kernels::InputError("eval windows: seq_len " + std::to_string(seq_len) + " must be >= 1");
  std::vector<std::vector<int32_t>> out;
  if (max_sequences == 0) return out;
  const int64_t row = int64_t(seq_len) + 1;
  // Stride T+1, not T: eval windows never share a token, so each target is scored exactly once.
  for (const ShardInfo& s : open_shards(pattern)) {
    const int64_t room = max_sequences < 0 ? s.num_tokens / row
                                           : std::min(s.num_tokens / row, max_sequences - int64_t(out.size()));
    if (room <= 0) continue;
    const std::vector<int32_t> ids = read_tokens(s, 0, room * row);  // only what is used
    for (int64_t i = 0; i < room; ++i) out.emplace_back(ids.begin() + i * row, ids.begin() + (i + 1) * row);
    if (max_sequences > 0 && int64_t(out.size()) >= max_sequences) break;
  }
  if (out.empty()) {
    throw kernels::InputError("data pattern " + pattern + ": no eval windows, the shards have fewer than "
                              "seq_len+1 = " + std::to_string(row) + " tokens each");
  }
  return out;
}

}  // namespace data
