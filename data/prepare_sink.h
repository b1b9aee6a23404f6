// data/prepare_sink.h
// Where `kiln prepare` puts tokens: a ShardSink per split packs documents into shard files of at
// most shard_tokens ids, the SplitRouter sends each document to train or val, and a ShardWriterThread
// does the file writing (HDF5, fsync) off the critical path.
//
// Called by prepare() on its consuming (calling) thread, in document order, which is what makes
// the output independent of the number of tokenizer threads. Does not read input or tokenize.
// Memory is bounded whatever the shard size: a sink hands its ids to the writer thread in blocks
// of kSinkBlockTokens, at most kWriterQueue blocks wait, and shards are streamed to disk.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/prepare.h"
#include "data/tokenizer.h"

namespace data {

// "train_000123.h5" / "val_000007.h5": the names ShardSink writes.
bool is_shard_name(const std::string& file_name);

inline constexpr size_t kSinkBlockTokens = size_t{1} << 18;  // 1 MiB of ids per handed-over block
inline constexpr size_t kWriterQueue = 4;                    // blocks waiting for the writer, at most

// One background thread running write tasks in submission order (FIFO across every sink, so each
// shard's pieces arrive in order). submit() blocks while max_queued tasks wait, which is what bounds
// memory when the disk is slower than the tokenizers. A task that throws stops the thread's work:
// every later submit() and wait() rethrows that error on the calling thread. The destructor drops
// tasks not yet started and joins.
class ShardWriterThread {
 public:
  explicit ShardWriterThread(size_t max_queued = kWriterQueue);
  ~ShardWriterThread();
  ShardWriterThread(const ShardWriterThread&) = delete;
  ShardWriterThread& operator=(const ShardWriterThread&) = delete;

  void submit(std::function<void()> task);
  void wait();  // until every submitted task ran; rethrows the first failure

 private:
  void run();
  void rethrow_locked();

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> queue_;
  size_t max_queued_ = kWriterQueue;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// Packs one split's documents into `dir`/PREFIX_NNNNNN.h5 in order, streaming each shard to disk
// through `writer` (data/shard.h's ShardWriter) as it fills. A document may span shards; a shard's
// doc_offsets list the documents that start in it. The counters below are the consuming thread's
// view (final once finish() returned).
class ShardSink {
 public:
  // progress (may be empty) gets "wrote FINAL_DIR/NAME: ..." per shard, on the calling thread;
  // final_dir is where the shard will live once prepare() commits, dir where it is written now.
  ShardSink(std::string dir, std::string final_dir, std::string prefix, int64_t shard_tokens,
            const Tokenizer& tok, const PrepareProgress& progress, ShardWriterThread& writer);

  // Appends ids; doc_start marks the first ids of a document (an empty document is allowed).
  void add(const uint32_t* ids, size_t n, bool doc_start);
  // Writes the last, partial shard and waits for the writer, so every shard is on disk after it.
  void finish();

  std::vector<std::string> written;  // file names, in order
  int64_t tokens = 0, documents = 0;
  int shards = 0;

 private:
  // What the writer thread owns for this sink: the shard being written and finished-shard lines
  // for the progress callback. Shared with queued tasks, so it outlives the sink if it must.
  struct Open;
  void hand_over(bool end_of_shard);
  void report();

  std::string dir_, final_dir_, prefix_;
  int64_t shard_tokens_;
  const Tokenizer& tok_;
  const PrepareProgress& progress_;
  ShardWriterThread& writer_;
  std::shared_ptr<Open> open_;
  int64_t in_shard_ = 0;           // tokens of the current shard so far: never full between calls
  int64_t docs_in_shard_ = 0;
  std::vector<uint32_t> block_;    // ids not yet handed to the writer
  std::vector<uint64_t> offsets_;  // their documents' starts, relative to the shard
};

// The train/val split, decided document by document while streaming.
//   Document i (0-based, in input order, empty JSONL documents not counted) goes to val when
//   uniform01(mix(seed, kShuffle, "SPLIT"), i) < val_fraction: a pure function of (seed, i).
//   With val_fraction > 0 and at least two documents both splits must be non-empty: if no
//   document drew val, the last document goes to val; if every document drew val, the last one
//   goes to train. A lone document always trains (a corpus without train data is useless).
// Only the last document can move, so the router holds back the current document (buffers its
// tokens) only while the split it would leave empty has no document yet; in any real corpus that
// stops after the first few documents. A held document past spill_tokens (1M by default: a single
// large file) continues in the file spill_path, so memory stays bounded even then.
class SplitRouter {
 public:
  SplitRouter(double val_fraction, uint64_t seed, ShardSink& train, ShardSink& val, std::string spill_path,
              size_t spill_tokens = size_t{1} << 20);
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
