// data/prepare_sink.cpp
// ShardSink and SplitRouter (data/prepare_sink.h): documents -> train_/val_ shard files.
//
// Called by prepare() on its consuming thread; the ShardWriterThread is the only other thread here.
// Shards are streamed with ShardWriter (NAME.tmp, fsync, rename) into prepare's staging folder;
// prepare() moves them into place at the end.
#include "data/prepare_sink.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "data/shard.h"
#include "kernels/check.h"
#include "kernels/rng.h"

namespace data {
namespace fs = std::filesystem;

namespace {
// Stream tag for the split draws. The loader keys its shuffles by mix(seed, kShuffle, epoch); a tag
// no epoch count reaches keeps the two streams apart when both use the same seed.
constexpr uint64_t kSplitStream = 0x53504c4954ull;  // "SPLIT"
// Tokens per read when a spilled document is copied to its shard sink.
constexpr size_t kSpillBlock = size_t{1} << 20;
}  // namespace

bool is_shard_name(const std::string& n) {
  for (const std::string prefix : {"train_", "val_"}) {
    if (n.size() == prefix.size() + 9 && n.starts_with(prefix) && n.ends_with(".h5") &&
        std::all_of(n.begin() + long(prefix.size()), n.end() - 3, [](char c) { return c >= '0' && c <= '9'; })) {
      return true;
    }
  }
  return false;
}

ShardWriterThread::ShardWriterThread(size_t max_queued) {
  max_queued_ = std::max<size_t>(max_queued, 1);
  thread_ = std::thread([this] { run(); });
}

ShardWriterThread::~ShardWriterThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    queue_.clear();  // tasks not started: their state (open shard files) is abandoned by its owner
  }
  changed_.notify_all();
  thread_.join();
}

void ShardWriterThread::rethrow_locked() {
  if (error_) std::rethrow_exception(error_);
}

void ShardWriterThread::submit(std::function<void()> task) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return error_ || queue_.size() < max_queued_; });
  rethrow_locked();
  queue_.push_back(std::move(task));
  changed_.notify_all();
}

void ShardWriterThread::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return error_ || (queue_.empty() && !busy_); });
  rethrow_locked();
}

void ShardWriterThread::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [&] { return stop_ || (!queue_.empty() && !error_); });
      if (stop_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    changed_.notify_all();  // a queue slot is free
    std::exception_ptr failed;
    try {
      task();
    } catch (...) {
      failed = std::current_exception();
    }
    task = nullptr;  // release the block before saying so
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
      if (failed && !error_) {
        error_ = failed;
        queue_.clear();
      }
    }
    changed_.notify_all();
  }
}

struct ShardSink::Open {
  std::unique_ptr<ShardWriter> shard;  // touched by the writer thread only
  std::mutex mu;
  std::vector<std::string> finished;   // progress lines, taken by the consuming thread
};

ShardSink::ShardSink(std::string dir, std::string final_dir, std::string prefix, int64_t shard_tokens,
                     const Tokenizer& tok, const PrepareProgress& progress, ShardWriterThread& writer)
    : dir_(std::move(dir)), final_dir_(std::move(final_dir)), prefix_(std::move(prefix)),
      shard_tokens_(shard_tokens), tok_(tok), progress_(progress), writer_(writer),
      open_(std::make_shared<Open>()) {}

void ShardSink::add(const uint32_t* ids, size_t n, bool doc_start) {
  // The current shard is never full between calls, so a document starting now starts inside it.
  if (doc_start) {
    offsets_.push_back(uint64_t(in_shard_));
    ++documents;
    ++docs_in_shard_;
  }
  for (size_t done = 0; done < n;) {
    const size_t room = std::min(size_t(shard_tokens_ - in_shard_), kSinkBlockTokens - block_.size());
    const size_t take = std::min(n - done, room);
    block_.insert(block_.end(), ids + done, ids + done + take);
    done += take;
    in_shard_ += int64_t(take);
    if (in_shard_ == shard_tokens_) {
      hand_over(true);
    } else if (block_.size() == kSinkBlockTokens) {
      hand_over(false);
    }
  }
  report();
}

void ShardSink::finish() {
  if (in_shard_ > 0) hand_over(true);  // (a trailing empty document has no ids to point at)
  writer_.wait();
  report();
}

// Gives the writer thread the pending ids (and the offsets of documents starting in them); with
// end_of_shard it also finishes the shard file. The shard's name and counts are fixed here, on the
// consuming thread, so they never depend on the writer's timing.
void ShardSink::hand_over(bool end_of_shard) {
  char name[32];
  std::snprintf(name, sizeof name, "%s_%06d.h5", prefix_.c_str(), shards);
  const std::string path = (std::filesystem::path(dir_) / name).string();
  std::string line;
  if (end_of_shard) {
    line = "wrote " + (std::filesystem::path(final_dir_) / name).string() + ": " + std::to_string(in_shard_) +
           " tokens, " + std::to_string(docs_in_shard_) + " documents starting in it";
    written.push_back(name);
    tokens += in_shard_;
    ++shards;
    in_shard_ = 0;
    docs_in_shard_ = 0;
  }
  auto task = [open = open_, path, ids = std::move(block_), offsets = std::move(offsets_), end_of_shard,
               line = std::move(line), vocab = tok_.vocab_size(), eot = tok_.eot_token(),
               fingerprint = tok_.fingerprint()]() {
    if (!open->shard) open->shard = std::make_unique<ShardWriter>(path, vocab, eot, fingerprint);
    open->shard->append_tokens(ids.data(), ids.size());
    open->shard->append_doc_offsets(offsets.data(), offsets.size());
    if (end_of_shard) {
      open->shard->finish();
      open->shard.reset();
      std::lock_guard<std::mutex> lock(open->mu);
      open->finished.push_back(line);
    }
  };
  block_ = {};
  offsets_ = {};
  block_.reserve(kSinkBlockTokens);
  writer_.submit(std::move(task));
}

// Passes finished shards' lines to the progress callback, on the consuming thread.
void ShardSink::report() {
  std::vector<std::string> lines;
  {
    std::lock_guard<std::mutex> lock(open_->mu);
    if (open_->finished.empty()) return;
    lines.swap(open_->finished);
  }
  if (progress_) {
    for (const std::string& l : lines) progress_(l);
  }
}

SplitRouter::SplitRouter(double val_fraction, uint64_t seed, ShardSink& train, ShardSink& val,
                         std::string spill_path, size_t spill_tokens)
    : spill_path_(std::move(spill_path)),
      spill_tokens_(std::max<size_t>(spill_tokens, 1)),
      val_fraction_(val_fraction),
      key_(kernels::mix(seed, kernels::Purpose::kShuffle, kSplitStream)),
      train_(train),
      val_(val) {}

void SplitRouter::write(bool val, const uint32_t* ids, size_t n, bool doc_start) {
  (val ? val_ : train_).add(ids, n, doc_start);
}

// The held document is no longer the last one (or its side is now settled): it goes to its sink,
// the spilled part first, read back in blocks.
void SplitRouter::release() {
  if (!holding_) return;
  bool first = true;
  if (spill_ != nullptr) {
    std::vector<uint32_t> block(kSpillBlock);
    std::rewind(spill_);
    for (size_t n; (n = std::fread(block.data(), sizeof(uint32_t), block.size(), spill_)) > 0; first = false) {
      write(current_val_, block.data(), n, first);
    }
    const bool read_ok = !std::ferror(spill_);
    std::fclose(spill_);
    spill_ = nullptr;
    std::remove(spill_path_.c_str());
    KILN_CHECK(read_ok, "cannot read back " + spill_path_);
  }
  write(current_val_, held_.data(), held_.size(), first);
  (current_val_ ? n_val_ : n_train_) += 1;
  holding_ = false;
  held_.clear();
}

SplitRouter::~SplitRouter() {
  if (spill_ != nullptr) {
    std::fclose(spill_);
    std::remove(spill_path_.c_str());
  }
}

void SplitRouter::begin_document() {
  release();
  const uint64_t i = uint64_t(next_index_++);
  current_val_ = kernels::uniform01(key_, i) < val_fraction_;
  // Hold while this document might have to switch sides at the end: the other split is empty.
  holding_ = val_fraction_ > 0 && (current_val_ ? n_train_ == 0 : n_val_ == 0);
  if (!holding_) {
    write(current_val_, nullptr, 0, true);  // its side is final: start it in its shard now
    (current_val_ ? n_val_ : n_train_) += 1;
  }
}

void SplitRouter::add(const uint32_t* ids, size_t n) {
  if (holding_) {
    held_.insert(held_.end(), ids, ids + n);
    if (held_.size() >= spill_tokens_) {  // a huge held document: keep RAM bounded, park it on disk
      if (spill_ == nullptr) spill_ = std::fopen(spill_path_.c_str(), "w+b");
      const bool ok = spill_ != nullptr && std::fwrite(held_.data(), sizeof(uint32_t), held_.size(), spill_) == held_.size();
      if (!ok) throw kernels::InputError("prepare: cannot write " + spill_path_ + " (is the output disk full?)");
      held_.clear();
    }
  } else {
    write(current_val_, ids, n, false);
  }
}

void SplitRouter::finish() {
  if (!holding_) return;
  const bool alone = n_train_ + n_val_ == 0;
  // A lone document trains; otherwise the held (last) document fills the split that is empty.
  if (alone) {
    current_val_ = false;
  } else if (current_val_ ? n_train_ == 0 : n_val_ == 0) {
    current_val_ = !current_val_;
  }
  release();
}

}  // namespace data
