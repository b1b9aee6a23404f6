// data/prepare_sink.cpp
// ShardSink and SplitRouter (data/prepare_sink.h): documents -> train_/val_ shard files.
//
// Called by prepare() on one thread. Shards are written with write_shard() (NAME.tmp, fsync,
// rename) into prepare's staging folder; prepare() moves them into place at the end.
#include "data/prepare_sink.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

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

ShardSink::ShardSink(std::string dir, std::string final_dir, std::string prefix, int64_t shard_tokens,
                     const Tokenizer& tok, const PrepareProgress& progress)
    : dir_(std::move(dir)), final_dir_(std::move(final_dir)), prefix_(std::move(prefix)),
      shard_tokens_(shard_tokens), tok_(tok), progress_(progress) {}

void ShardSink::add(const uint32_t* ids, size_t n, bool doc_start) {
  // buf_ is never full between calls, so a document starting now starts inside it.
  if (doc_start) {
    offsets_.push_back(buf_.size());
    ++documents;
  }
  for (size_t done = 0; done < n;) {
    const size_t take = std::min(n - done, size_t(shard_tokens_) - buf_.size());
    buf_.insert(buf_.end(), ids + done, ids + done + take);
    done += take;
    if (buf_.size() == size_t(shard_tokens_)) flush();
  }
}

void ShardSink::finish() {
  if (!buf_.empty()) flush();
}

void ShardSink::flush() {
  char name[32];
  std::snprintf(name, sizeof name, "%s_%06d.h5", prefix_.c_str(), shards);
  write_shard((fs::path(dir_) / name).string(), buf_, offsets_, tok_.vocab_size(), tok_.eot_token(),
              tok_.fingerprint());
  if (progress_) {
    progress_("wrote " + (fs::path(final_dir_) / name).string() + ": " + std::to_string(buf_.size()) +
              " tokens, " + std::to_string(offsets_.size()) + " documents starting in it");
  }
  written.push_back(name);
  tokens += int64_t(buf_.size());
  ++shards;
  buf_.clear();
  offsets_.clear();
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
