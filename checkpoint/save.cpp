// checkpoint/save.cpp
// Saver: the collective half of saving. begin() copies this rank's pieces into a staging buffer
// (the only stall a save adds to a training step), has rank 0 prepare step_X.tmp/, and starts a
// thread that writes this rank's HDF5 file and slice list. commit() agrees over `world` that every
// rank is done, then rank 0 publishes (commit.cpp) and everyone learns the outcome.
//
// Called by the trainer's run loop (and the benchmark, and tests). Does not decide what to save
// (the trainer builds the Pieces) and never touches the communicator from the writer thread: MPI
// is initialised FUNNELED, so every collective here runs on the thread that called begin/commit.
//
// Ordering, per save:
//   begin:   [commit(true) of the previous save] -> copy -> rank 0 empties step_X.tmp/ ->
//            broadcast(rank 0's result) = barrier -> writer thread starts
//   writer:  rank_R.h5 written + fsynced -> rank_R.yaml written + fsynced -> done flag
//   commit:  all_reduce(max of {0 done, 1 writing, 2 failed}) -> rank 0 publish ->
//            broadcast(rank 0's result) = the barrier after which every rank sees step_X
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "checkpoint/internal.h"
#include "data/io.h"
#include "kernels/check.h"

namespace checkpoint {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One int32 through a collective: the only things ranks need to agree on are small status codes.
int32_t all_max(parallel::Comm& c, int32_t v) {
  kernels::Tensor t{&v, kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{1}};
  c.all_reduce(t, parallel::ReduceOp::kMax, kernels::Stream::host());
  return v;
}
int32_t from_root(parallel::Comm& c, int32_t v) {
  kernels::Tensor t{&v, kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{1}};
  c.broadcast(t, 0, kernels::Stream::host());
  return v;
}

// Caller bugs (the trainer described its state wrongly) fail hard, as other invariants do.
void check_piece(const Piece& p) {
  const std::string what = "checkpoint piece '" + p.tensor + "'";
  KILN_CHECK(!p.tensor.empty(), "checkpoint piece without a tensor name");
  const std::string why = detail::check_layout(p.global_shape, p.split, p.tp);
  KILN_CHECK(why.empty(), what + " " + p.global_shape.str() + ": " + why);
  KILN_CHECK(p.tp_rank >= 0 && p.tp_rank < p.tp, what + ": tp_rank out of range");
  const int64_t n = parallel::local_shape(p.global_shape, p.split, p.tp).numel();
  KILN_CHECK(p.local_begin >= 0 && p.count >= 0 && p.local_begin + p.count <= n,
             what + ": range outside the local shard of " + std::to_string(n) + " elements");
  KILN_CHECK(p.count == 0 || p.data != nullptr, what + ": no data");
}

}  // namespace

struct Saver::Impl {
  // The save in flight: owned copies of everything the writer thread reads.
  struct Save {
    RunState state;
    std::string tmp;                         // <dir>/step_X.tmp
    std::vector<detail::WriteItem> items;    // point into Impl::staging
    std::thread writer;
    std::atomic<bool> done{false};           // release-stored by the writer after `error`/`write_s`
    std::string error;                       // "" = files written and fsynced
    double write_s = 0;
    ~Save() {
      if (writer.joinable()) writer.join();
    }
  };

  Impl(std::string d, int k, parallel::Comm& w) : dir(std::move(d)), keep_last(k), world(w) {}
  std::string dir;
  int keep_last;
  parallel::Comm& world;
  // Kept between saves: the second and later begin() copy into memory that is already mapped,
  // which is several times faster than first-touching a fresh allocation.
  detail::HostBuffer staging;
  std::unique_ptr<Save> save;
  Stats stats;

  // The writer thread's body: this rank's files, then the done flag. No communicator calls here.
  static void write_rank(Save* s, int rank);
};

void Saver::Impl::write_rank(Save* s, int rank) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    std::vector<detail::SliceRecord> recs;
    if (!s->items.empty()) detail::write_shard_file(s->tmp + "/" + detail::rank_file(rank), rank, s->items);
    for (const auto& it : s->items) recs.push_back(it.rec);
    // Written last: its presence says this rank's data file is complete and durable.
    const std::string list = s->tmp + "/" + detail::rank_list_file(rank);
    if (!data::io::write_file_synced(list, detail::emit_rank_list(rank, recs)))
      throw std::runtime_error(list + ": cannot write");
  } catch (const std::exception& e) {
    s->error = e.what();
  } catch (...) {
    s->error = "unknown error while writing rank " + std::to_string(rank) + "'s checkpoint files";
  }
  s->write_s = seconds_since(t0);
  s->done.store(true, std::memory_order_release);
}

Saver::Saver(std::string checkpoints_dir, int keep_last, parallel::Comm& world)
    : impl_(std::make_unique<Impl>(std::move(checkpoints_dir), keep_last, world)) {}

Saver::~Saver() = default;  // ~Save joins a running writer; nothing is committed

bool Saver::pending() const { return impl_->save != nullptr; }

const Saver::Stats& Saver::stats() const { return impl_->stats; }

void Saver::begin(const RunState& state, const std::vector<Piece>& my_pieces) {
  Impl& im = *impl_;
  if (im.save) commit(true);  // one save at a time: the previous one is committed first
  KILN_CHECK(state.step >= 0, "checkpoint step must not be negative");

  std::set<std::string> names;
  size_t total = 0;
  for (const Piece& p : my_pieces) {
    check_piece(p);
    if (p.count == 0) continue;  // e.g. a ZeRO range that is empty on this rank
    const std::string ds = detail::dataset_name(p.tensor, p.tp_rank, p.local_begin);
    KILN_CHECK(names.insert(ds).second, "checkpoint piece '" + p.tensor + "' given twice by one rank");
    total += size_t(p.count) * kernels::dtype_size(p.dtype);
  }

  // The copy: after this loop the caller may change its tensors.
  const auto t0 = std::chrono::steady_clock::now();
  std::byte* const staging = im.staging.reserve(total);
  auto s = std::make_unique<Impl::Save>();
  s->state = state;
  s->tmp = im.dir + "/" + detail::step_name(state.step) + ".tmp";
  size_t off = 0;
  const int rank = im.world.rank();
  for (const Piece& p : my_pieces) {
    if (p.count == 0) continue;
    const size_t bytes = size_t(p.count) * kernels::dtype_size(p.dtype);
    std::memcpy(staging + off, p.data, bytes);
    detail::WriteItem it;
    it.rec = {p.tensor, p.dtype, p.global_shape, p.split, p.tp, p.tp_rank, p.local_begin, p.count,
              detail::rank_file(rank), detail::dataset_name(p.tensor, p.tp_rank, p.local_begin), 0};
    it.data = staging + off;
    s->items.push_back(std::move(it));
    off += bytes;
  }
  im.stats = Stats{state.step, uint64_t(total), seconds_since(t0), 0, 0};

  // Rank 0 empties the folder (a leftover of a killed save of the same step may hold files of
  // ranks that do not exist now); the broadcast keeps everyone from writing into it before that.
  int32_t rc = 0;
  std::string err;
  if (rank == 0) {
    try {
      fs::create_directories(im.dir);
      fs::remove_all(s->tmp);
      fs::create_directory(s->tmp);
    } catch (const std::exception& e) {
      rc = 1;
      err = e.what();
    }
  }
  if (from_root(im.world, rc) != 0)
    throw std::runtime_error("checkpoint: cannot prepare " + s->tmp + (rank == 0 ? ": " + err : " (see rank 0)"));

  try {
    s->writer = std::thread(&Impl::write_rank, s.get(), rank);
  } catch (const std::system_error& e) {  // out of threads or memory: an error, not std::terminate
    throw std::runtime_error("checkpoint step " + std::to_string(state.step) +
                             " not saved: cannot start the writer thread (" + e.what() + ")");
  }
  im.save = std::move(s);
}

int64_t Saver::commit(bool wait) {
  Impl& im = *impl_;
  if (!im.save) return -1;  // same answer on every rank: begin and commit are collective
  Impl::Save& s = *im.save;
  int32_t status = 1;       // still writing
  if (wait || s.done.load(std::memory_order_acquire)) {
    if (s.writer.joinable()) s.writer.join();  // an earlier commit(false) may have joined it
    status = s.error.empty() ? 0 : 2;
  }
  const int32_t worst = all_max(im.world, status);
  if (worst == 1) return -1;  // only reachable with wait=false

  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Impl::Save> done = std::move(im.save);  // committed or failed: this save is over
  const int64_t step = done->state.step;
  im.stats.write_s = done->write_s;
  if (worst == 2)
    throw std::runtime_error("checkpoint step " + std::to_string(step) + " not saved: " +
                             (done->error.empty() ? "another rank failed to write its files (see its message)" : done->error));

  int32_t rc = 0;
  std::string err;
  if (im.world.rank() == 0) {
    try {
      detail::publish(im.dir, done->tmp, done->state, im.world.size(), im.keep_last);
    } catch (const std::exception& e) {
      rc = 1;
      err = e.what();
    }
  }
  // Doubles as the closing barrier: when it returns, step_X and `latest` are in place for all.
  if (from_root(im.world, rc) != 0)
    throw std::runtime_error("checkpoint step " + std::to_string(step) + " not committed: " +
                             (im.world.rank() == 0 ? err : std::string("see rank 0's message")));
  im.stats.commit_s = seconds_since(t0);
  return step;
}

}  // namespace checkpoint
