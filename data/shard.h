// data/shard.h
// Token shards on disk (CONTRACTS §4): one HDF5 file per shard, written atomically, read-only after.
//
//   /tokens       1-D uint16 (vocab_size <= 65536) or uint32, chunked
//   /doc_offsets  1-D uint64, start of each document in /tokens
//   root attrs    kiln_format="tokens", format_version=1, vocab_size, eot_token (-1 if none),
//                 tokenizer (name + hash of its files)
// Every failure to read or validate throws kernels::InputError naming the file and the problem.
// Two ways to read ids: read_tokens() (open, read a range, close; for tests and one-off reads) and
// ShardReader (keeps the file open and reads many small ranges; the loader's and inspect's path).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace data {

struct ShardInfo {
  std::string path;
  int64_t num_tokens = 0;
  int64_t num_docs = 0;
  int vocab_size = 0;
  int eot_token = -1;
  std::string tokenizer;  // e.g. "byte:<hash>"
};

// Writes one shard in pieces: NAME.tmp is created at construction; finish() writes the attributes,
// fsyncs, renames to `path` and fsyncs the folder. Destroyed (or failing) before finish(), it
// removes NAME.tmp. Memory stays at one append's worth whatever the shard's size. ids must all be
// < vocab_size and offsets must increase (checked: a violation is a bug in the caller, exit 1).
// Not thread-safe: one thread uses a writer at a time.
class ShardWriter {
 public:
  ShardWriter(const std::string& path, int vocab_size, int eot_token, const std::string& tokenizer);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  void append_tokens(const uint32_t* ids, size_t n);
  void append_doc_offsets(const uint64_t* offsets, size_t n);  // positions in /tokens
  void finish();
  uint64_t tokens() const;  // appended so far

 private:
  void abandon();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole shard at once (tests, small files): a ShardWriter with one append each.
void write_shard(const std::string& path, const std::vector<uint32_t>& tokens,
                 const std::vector<uint64_t>& doc_offsets, int vocab_size, int eot_token,
                 const std::string& tokenizer);

// Opens read-only and validates attributes and dtype (not the ids: see read_tokens).
ShardInfo read_shard_info(const std::string& path);

// Reads tokens [begin, begin+count) and validates every id < info.vocab_size.
std::vector<int32_t> read_tokens(const ShardInfo& info, int64_t begin, int64_t count);

// One open shard, read in ranges (HDF5 hyperslabs) without ever loading the whole file. Every id it
// returns has been checked < vocab_size, so each chunk is validated on (at least) its first read as
// CONTRACTS §4 asks; the check costs far less than the read. Holds one file handle and a scratch
// buffer of the largest range read so far; no chunk cache (see shard_read.cpp for why).
// Not thread-safe: one thread uses a reader at a time (HDF5 itself is built thread-safe, so
// different readers may live on different threads).
class ShardReader {
 public:
  // Opens info.path read-only; throws InputError if /tokens no longer has info.num_tokens ids.
  explicit ShardReader(const ShardInfo& info);
  ~ShardReader();
  ShardReader(ShardReader&&) noexcept;
  ShardReader& operator=(ShardReader&&) noexcept;

  const ShardInfo& info() const;
  // Elements per HDF5 chunk of /tokens (the whole length for a contiguous dataset): the natural
  // block size for sequential scans.
  int64_t chunk_tokens() const;
  // ids [begin, begin+count) -> dst[0, count), widened to int32. InputError names the file and the
  // index of the first id >= vocab_size, or the range when HDF5 cannot read it (corrupt chunk).
  void read_tokens(int64_t begin, int64_t count, int32_t* dst);
  // /doc_offsets [begin, begin+count) -> dst. Values are not checked here (see data/inspect.h).
  void read_doc_offsets(int64_t begin, int64_t count, uint64_t* dst);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Expands a glob ("data/x/train_*.h5") into a sorted list of files; throws InputError naming the
// pattern when nothing matches.
std::vector<std::string> expand_glob(const std::string& pattern);

}  // namespace data
