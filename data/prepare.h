// data/prepare.h
// `kiln prepare`: text -> tokenized HDF5 shards (CONTRACTS §4, §6).
//
// Inputs: text files (each one document, taken byte for byte), folders (every regular file inside,
// recursively, sorted by path), JSONL files (*.jsonl: one document per line, its text in the string
// field jsonl_key; empty documents are skipped and counted) and "-" for standard input (one text
// document, or JSONL when stdin_jsonl). Input is streamed and shards are streamed out: memory stays
// bounded (the pipeline's batches, at most 16 MiB of text, plus a few 1 MiB blocks of ids on their
// way to the writer thread) whatever the corpus or shard size; only a single pre-token piece
// longer than slice_bytes (a run of one character class with no break) is held whole. Every document ends with the
// tokenizer's end-of-text token when it has one (GPT-2: 50256; the byte tokenizer has none).
// Documents go to val or train whole, by a function of (seed, document index) (data/
// prepare_sink.h has the exact rule). Shards hold at most shard_tokens tokens (a document may span
// two). The tokenizer folder is written to OUT/tokenizer/.
//
// All-or-nothing: shards are written into OUT/.kiln-prepare.tmp/ and moved into OUT only when
// every input has been read, so bad input found mid-stream (a malformed JSONL line) leaves OUT as
// it was. Bad input throws kernels::InputError naming the input (and line, for JSONL).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace data {

// A snapshot for the live progress line.
struct PrepareStatus {
  int64_t docs = 0, bytes = 0, tokens = 0;
  double seconds = 0;
  bool final = false;  // the last call, after everything is written
  // "prepare: 1234 docs (567/s) | 12.3 MB (4.56 MB/s) | 3.21M tokens | 2.7 s"
  std::string line() const;
};

// Each tokenizer thread keeps up to two ~1 MiB batches in flight; past a few hundred threads the
// reader is the bottleneck anyway, and 100000 threads would only exhaust the process.
inline constexpr int kMaxPrepareThreads = 256;

struct PrepareOptions {
  std::vector<std::string> inputs;  // files, folders, or "-" (standard input)
  std::string out_dir;
  std::string tokenizer = "byte";   // byte | gpt2 | a tokenizer folder (data/tokenizer.h)
  double val_fraction = 0.05;       // in [0, 1)
  int64_t shard_tokens = 100'000'000;
  uint64_t seed = 1337;
  std::string jsonl_key = "text";   // the string field holding a JSONL document's text
  bool stdin_jsonl = false;         // "-" is JSONL rather than one text document
  int threads = 0;                  // tokenizer threads; 0 = every core; at most kMaxPrepareThreads
  // A text document longer than this reaches the tokenizer in slices, cut where the tokenizer says
  // the ids cannot change (Tokenizer::split_point), so one huge file does not need its size in RAM.
  // Lowered to the pipeline's batch size (data/prepare_pipeline.h) when that is smaller.
  size_t slice_bytes = size_t{4} << 20;
  // Called on the calling thread at most every progress_interval_s while tokenizing, and once at
  // the end with final = true. Empty: no progress.
  std::function<void(const PrepareStatus&)> progress;
  double progress_interval_s = 0.5;
};

struct PrepareSummary {
  int64_t train_docs = 0, val_docs = 0;
  int64_t train_tokens = 0, val_tokens = 0;
  int train_shards = 0, val_shards = 0;
  int64_t empty_docs = 0;  // JSONL lines without text, skipped
  int64_t bytes = 0;       // input bytes read
  double seconds = 0;
};

PrepareSummary prepare(const PrepareOptions& opt);

// Same, reporting one human-readable line per file written ("wrote OUT/train_000000.h5: ..."), so
// the CLI decides where such lines go; prepare() itself prints nothing.
using PrepareProgress = std::function<void(const std::string& line)>;
PrepareSummary prepare(const PrepareOptions& opt, const PrepareProgress& progress);

}  // namespace data
