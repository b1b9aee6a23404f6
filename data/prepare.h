// data/prepare.h
// `kiln prepare`: text -> tokenized HDF5 shards (CONTRACTS §4, §6).
//
// Each input file is one document, taken byte for byte; a folder contributes every regular file
// inside it (recursively, sorted by path). Documents are assigned to val or train by a pure
// function of (seed, document index), so the split is fixed by --seed and takes whole documents.
// Shards hold at most shard_tokens tokens (a document may span two shards). The tokenizer folder is
// written to OUT/tokenizer/. Bad input (missing path, empty file, no text at all, bad fraction)
// throws kernels::InputError naming the input.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace data {

struct PrepareOptions {
  std::vector<std::string> inputs;  // files or folders
  std::string out_dir;
  std::string tokenizer = "byte";   // only "byte" for now
  double val_fraction = 0.05;       // in [0, 1)
  int64_t shard_tokens = 100'000'000;
  uint64_t seed = 1337;
};

struct PrepareSummary {
  int64_t train_docs = 0, val_docs = 0;
  int64_t train_tokens = 0, val_tokens = 0;
  int train_shards = 0, val_shards = 0;
};

PrepareSummary prepare(const PrepareOptions& opt);

// Same, reporting one human-readable line per file written ("wrote OUT/train_000000.h5: ..."), so
// the CLI decides where progress goes; prepare() itself prints nothing.
using PrepareProgress = std::function<void(const std::string& line)>;
PrepareSummary prepare(const PrepareOptions& opt, const PrepareProgress& progress);

}  // namespace data
