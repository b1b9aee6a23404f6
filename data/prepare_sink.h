// data/prepare_sink.h
// Where `kiln prepare` puts tokens: a ShardSink per split packs documents into shard files of at
// most shard_tokens ids, and the SplitRouter sends each document to train or val.
//
// Called by prepare() on its writer (calling) thread, in document order, which is what makes the
// output independent of the number of tokenizer threads. Does not read input or tokenize.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "data/prepare.h"
#include "data/tokenizer.h"

namespace data {

// "train_000123.h5" / "val_000007.h5": the names ShardSink writes.
bool is_shard_name(const std::string& file_name);

// Packs one split's documents into `dir`/PREFIX_NNNNNN.h5 in order, writing each shard when full.
// A document may span shards; a shard's doc_offsets list the documents that start in it.
class ShardSink {
 public:
  // progress (may be empty) gets "wrote FINAL_DIR/NAME: ..." per shard; final_dir is where the
  // shard will live once prepare() commits, dir where it is written now.
  ShardSink(std::string dir, std::string final_dir, std::string prefix, int64_t shard_tokens,
            const Tokenizer& tok, const PrepareProgress& progress);

  // Appends ids; doc_start marks the first ids of a document (an empty document is allowed).
  void add(const uint32_t* ids, size_t n, bool doc_start);
  void finish();  // writes the last, partial shard

  std::vector<std::string> written;  // file names, in order
  int64_t tokens = 0, documents = 0;
  int shards = 0;

 private:
  void flush();

  std::string dir_, final_dir_, prefix_;
  int64_t shard_tokens_;
  const Tokenizer& tok_;
  const PrepareProgress& progress_;
  std::vector<uint32_t> buf_;      // the shard being filled: never full between calls
  std::vector<uint64_t> offsets_;
};

// The train/val split, decided document by document while streaming.
//   Document i (0-based, in input order, empty JSONL documents not counted) goes to val when
//   uniform01(mix(seed, kShuffle, "SPLIT"), i) < val_fraction: a pure function of (seed, i).
//   With val_fraction > 0 and at least two documents both splits must be non-empty: if no
//   document drew val, the last document goes to val; if every document drew val, the last one
//   goes to train. A lone document always trains (a corpus without train data is useless).
// Only the last document can move, so the router holds back the current document (buffers its
// tokens) only while the split it would leave empty has no document yet; in any real corpus that
// stops after the first few documents. A held document past spill_tokens (16M by default: a single
// multi-GB file) continues in the file spill_path, so memory stays bounded even then.
class SplitRouter {
 public:
  SplitRouter(double val_fraction, uint64_t seed, ShardSink& train, ShardSink& val, std::string spill_path,
              size_t spill_tokens = size_t{16} << 20);
  ~SplitRouter();
  SplitRouter(const SplitRouter&) = delete;
  SplitRouter& operator=(const SplitRouter&) = delete;

  void begin_document();
  void add(const uint32_t* ids, size_t n);  // the current document's next tokens
  void finish();                            // places the held document, if any

  int64_t documents() const { return next_index_; }

 private:
  void write(bool val, const uint32_t* ids, size_t n, bool doc_start);
  void release();

  std::string spill_path_;
  size_t spill_tokens_;
  std::FILE* spill_ = nullptr;       // open while the held document has spilled

  double val_fraction_;
  uint64_t key_;
  ShardSink& train_;
  ShardSink& val_;
  int64_t next_index_ = 0;
  int64_t n_train_ = 0, n_val_ = 0;  // documents already placed for good
  bool current_val_ = false;
  bool holding_ = false;             // the current document is buffered in held_
  std::vector<uint32_t> held_;
};

}  // namespace data
