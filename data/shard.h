// data/shard.h
// Token shards on disk (CONTRACTS §4): one HDF5 file per shard, written atomically, read-only after.
//
//   /tokens       1-D uint16 (vocab_size <= 65536) or uint32, chunked
//   /doc_offsets  1-D uint64, start of each document in /tokens
//   root attrs    kiln_format="tokens", format_version=1, vocab_size, eot_token (-1 if none),
//                 tokenizer (name + hash of its files)
// Every failure to read or validate throws kernels::InputError naming the file and the problem.
#pragma once

#include <cstdint>
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

// Writes NAME.tmp, fsyncs, renames to `path`. ids must all be < vocab_size.
void write_shard(const std::string& path, const std::vector<uint32_t>& tokens,
                 const std::vector<uint64_t>& doc_offsets, int vocab_size, int eot_token,
                 const std::string& tokenizer);

// Opens read-only and validates attributes and dtype (not the ids: see read_tokens).
ShardInfo read_shard_info(const std::string& path);

// Reads tokens [begin, begin+count) and validates every id < info.vocab_size.
std::vector<int32_t> read_tokens(const ShardInfo& info, int64_t begin, int64_t count);

// Expands a glob ("data/x/train_*.h5") into a sorted list of files; throws InputError naming the
// pattern when nothing matches.
std::vector<std::string> expand_glob(const std::string& pattern);

}  // namespace data
