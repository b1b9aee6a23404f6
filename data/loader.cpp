// data/loader.cpp
// TrainLoader (shuffled training windows for one data-parallel rank, streamed from the shards and
// prefetched on a background thread) and read_eval_windows() (consecutive evaluation windows), both
// over the shards a glob names.
//
// Called by the trainer (next() per micro-step, state()/restore() around checkpoints), by the
// evaluator and `kiln eval` (read_eval_windows). Which window comes next is decided by
// data/window_order.h from indices alone; this file only turns windows into ids (ShardReader, an
// LRU of open files) and runs that on the Prefetcher's thread. It never reads a shard whole.
//
// Notation: T = seq_len, a window is T+1 ids starting at a multiple of T inside one shard; W is the
// number of windows in an epoch over all shards; G = micro_batch * dp_size windows per global batch.
#include <hdf5.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/prefetch.h"
#include "data/window_order.h"
#include "kernels/check.h"

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

// Ids read by the constructor from the start of every shard: one default chunk of /tokens.
constexpr int64_t kProbeTokens = 64 * 1024;

// At most `capacity` open ShardReaders; opening on a miss closes the least recently used. Each
// open reader costs one file descriptor and ~0.5 MB of HDF5 metadata cache (loader.h). Used by one
// thread at a time (the producer).
class ReaderCache {
 public:
  ReaderCache(const std::vector<ShardInfo>& infos, int capacity)
      : infos_(infos), slot_of_(infos.size(), -1), capacity_(size_t(capacity)) {}

  ShardReader& get(int shard) {
    ++tick_;
    int slot = slot_of_[size_t(shard)];
    if (slot < 0) {
      if (slots_.size() < capacity_) {
        slots_.emplace_back();
        slot = int(slots_.size()) - 1;
      } else {
        // Linear scan: capacity is small and a miss costs an H5Fopen, far more than the scan.
        slot = int(std::min_element(slots_.begin(), slots_.end(),
                                    [](const Slot& a, const Slot& b) { return a.used < b.used; }) -
                   slots_.begin());
        Slot& old = slots_[size_t(slot)];
        if (old.shard >= 0) slot_of_[size_t(old.shard)] = -1;
        old.reader.reset();  // close before opening: never capacity+1 files
        old.shard = -1;      // stays empty if the open below throws
      }
      slots_[size_t(slot)].reader = std::make_unique<ShardReader>(infos_[size_t(shard)]);
      slots_[size_t(slot)].shard = shard;
      slot_of_[size_t(shard)] = slot;
    }
    slots_[size_t(slot)].used = tick_;
    return *slots_[size_t(slot)].reader;
  }

 private:
  struct Slot {
    int shard = -1;
    uint64_t used = 0;
    std::unique_ptr<ShardReader> reader;
  };
  const std::vector<ShardInfo>& infos_;
  std::vector<int> slot_of_;  // per shard: its slot, or -1 while closed
  std::vector<Slot> slots_;
  size_t capacity_;
  uint64_t tick_ = 0;
};

bool hdf5_is_threadsafe() {
  hbool_t ts = false;
  return H5is_library_threadsafe(&ts) >= 0 && ts;
}

}  // namespace

struct TrainLoader::Impl {
  LoaderOptions opt;
  std::vector<ShardInfo> infos;
  // Producer side: used by whichever thread produces batches (the prefetch worker while `prefetch`
  // exists, else the caller). The caller touches them only after the worker is joined.
  std::unique_ptr<WindowOrder> order;
  std::unique_ptr<ReaderCache> readers;
  LoaderState produced;  // after the batches produced so far
  // Caller side.
  LoaderState handed;    // after the batches handed out: what state() reports
  bool background = false;
  std::unique_ptr<Prefetcher> prefetch;  // last: destroyed (joined) before what its thread uses

  // Reads the micro-batch this rank takes at `produced` and advances `produced` by a whole global
  // batch. Rank r's rows are entries [position + r*micro, ... + micro) of the global sequence.
  void produce(std::vector<int32_t>& dst) {
    const uint64_t row = uint64_t(opt.seq_len) + 1, micro = uint64_t(opt.micro_batch);
    const uint64_t W = uint64_t(order->num_windows());
    dst.resize(size_t(micro * row));
    for (uint64_t r = 0; r < micro; ++r) {
      const uint64_t k = produced.position + uint64_t(opt.dp_rank) * micro + r;
      const WindowRef ref = order->locate(order->window_at(produced.epoch + k / W, k % W));
      readers->get(ref.shard).read_tokens(ref.start, int64_t(row), dst.data() + r * row);
    }
    // Only after every read succeeded: a failed batch leaves the position on it.
    produced = advance(produced, micro * uint64_t(opt.dp_size), W);
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
  require_option(opt.prefetch >= 0 && opt.prefetch <= 64,
                 "prefetch " + std::to_string(opt.prefetch) + " must lie in [0, 64] batches");
  require_option(opt.max_open_files >= 1,
                 "max_open_files " + std::to_string(opt.max_open_files) + " must be >= 1");
  m.infos = open_shards(opt.pattern);
  std::vector<int64_t> lengths;
  for (const ShardInfo& s : m.infos) lengths.push_back(s.num_tokens);
  m.order = std::make_unique<WindowOrder>(lengths, opt.seq_len, opt.seed, opt.pattern);
  m.readers = std::make_unique<ReaderCache>(m.infos, opt.max_open_files);

  // Fail fast on a shard that is wrong throughout (another vocabulary, garbage data): its first
  // chunk shows it. Costs one small read per shard; later chunks are checked when first read.
  std::vector<int32_t> probe;
  for (size_t s = 0; s < m.infos.size(); ++s) {
    const int64_t n = std::min(m.infos[s].num_tokens, kProbeTokens);
    probe.resize(size_t(n));
    m.readers->get(int(s)).read_tokens(0, n, probe.data());
  }
  // A non-thread-safe HDF5 build cannot be called from a second thread while the trainer (or a
  // checkpoint writer) uses it: read on the caller's thread instead.
  m.background = opt.prefetch > 0 && hdf5_is_threadsafe();
}

TrainLoader::~TrainLoader() = default;
TrainLoader::TrainLoader(TrainLoader&&) noexcept = default;
TrainLoader& TrainLoader::operator=(TrainLoader&&) noexcept = default;

void TrainLoader::next(std::vector<int32_t>& tokens) {
  Impl& m = *impl_;
  if (!m.background) {
    m.produce(tokens);
  } else {
    // Started lazily so that construct + restore() (a resume) reads nothing twice.
    if (!m.prefetch) {
      Impl* p = &m;  // Impl does not move when the TrainLoader does
      m.prefetch = std::make_unique<Prefetcher>([p](std::vector<int32_t>& dst) { p->produce(dst); },
                                                m.opt.prefetch);
    }
    m.prefetch->take(tokens);
  }
  // Every rank advances by the whole global batch, so all ranks keep the same state.
  m.handed = advance(m.handed, uint64_t(m.opt.micro_batch) * uint64_t(m.opt.dp_size),
                     uint64_t(m.order->num_windows()));
}

LoaderState TrainLoader::state() const { return impl_->handed; }

void TrainLoader::restore(const LoaderState& s) {
  Impl& m = *impl_;
  if (s.position >= uint64_t(m.order->num_windows())) {
    throw kernels::InputError("data loader state: position " + std::to_string(s.position) +
                              " is past the " + std::to_string(m.order->num_windows()) +
                              " windows per epoch of " + m.opt.pattern +
                              "; the training data changed since it was saved");
  }
  m.prefetch.reset();  // joins the worker: prefetched batches belong to the old position
  m.handed = m.produced = s;
}

int TrainLoader::vocab_size() const { return impl_->infos.front().vocab_size; }
int64_t TrainLoader::num_windows() const { return impl_->order->num_windows(); }
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
    ShardReader reader(s);  // reads only the windows used, straight into their rows
    for (int64_t i = 0; i < room; ++i) {
      out.emplace_back(size_t(row));
      reader.read_tokens(i * row, row, out.back().data());
    }
    if (max_sequences > 0 && int64_t(out.size()) >= max_sequences) break;
  }
  if (out.empty()) {
    throw kernels::InputError("data pattern " + pattern + ": no eval windows, the shards have fewer than "
                              "seq_len+1 = " + std::to_string(row) + " tokens each");
  }
  return out;
}

}  // namespace data
