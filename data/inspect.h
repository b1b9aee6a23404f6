// data/inspect.h
// Describing and verifying a set of token shards: what `kiln inspect SHARD|DIR [--verify]` reports.
//
// Called by tools/cmd_inspect.cpp (which prints the report and its JSON line) and by tests. Reads
// shards through ShardReader, a bounded block at a time, so verifying a corpus of any size needs
// only a few MB. Checkpoint folders are not handled here (they will get their own inspector beside
// this one in cmd_inspect.cpp). Every problem is a kernels::InputError naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/shard.h"

namespace data {

struct ShardSetReport {
  std::string path;                // as given: one shard file or a folder of them
  std::vector<ShardInfo> shards;   // in byte order of their file names
  int64_t tokens = 0, documents = 0;
  int64_t train_files = 0, train_tokens = 0;  // files named train_*.h5
  int64_t val_files = 0, val_tokens = 0;      // files named val_*.h5
  // Common to every shard (inspect_shards fails when they differ).
  int vocab_size = 0;
  int eot_token = -1;
  std::string tokenizer;           // the shards' `tokenizer` attribute
  std::string dtype;               // of /tokens: "uint16" or "uint32" (fixed by vocab_size)
  std::string tokenizer_dir;       // the tokenizer/ folder beside the shards, "" when there is none
  bool verified = false;           // true only after a full verify pass found nothing wrong
};

// Lists the shards `path` names (the file itself, or every *.h5 directly inside the folder), reads
// and validates their attributes, and checks that they agree on vocab_size, eot_token and
// tokenizer. With verify, also reads every shard whole (verify_shard) and checks the tokenizer
// folder: required for a folder (`kiln prepare` always writes one), checked if present beside a
// single file; it must load and match the shards' tokenizer fingerprint, vocab_size and eot_token.
ShardSetReport inspect_shards(const std::string& path, bool verify);

// Reads all of one shard in blocks: every id < vocab_size, and /doc_offsets strictly increasing
// (as write_shard requires) and < num_tokens. Throws InputError naming the file and the index.
void verify_shard(const ShardInfo& info);

}  // namespace data
