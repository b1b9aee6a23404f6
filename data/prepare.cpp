// data/prepare.cpp
// `kiln prepare` (data/prepare.h): checks the options and inputs, runs the tokenizing pipeline
// (data/prepare_pipeline.cpp) into the train/val shard sinks (data/prepare_sink.cpp) inside a
// staging folder, then commits: shards and tokenizer/ move into OUT, stale shards of an earlier
// run go.
//
// Called by tools/cmd_prepare.cpp and tests. Checks that need no reading (options, paths, empty
// files, the tokenizer) run before anything is written. Does not print: per-shard lines go to the
// PrepareProgress callback, the live status to PrepareOptions::progress.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "data/document_source.h"
#include "data/io.h"
#include "data/prepare.h"
#include "data/prepare_pipeline.h"
#include "data/prepare_sink.h"
#include "data/tokenizer.h"
#include "kernels/check.h"

namespace data {
namespace fs = std::filesystem;

namespace {

// Where shards are written before the commit. Hidden, so a later run over a parent folder skips it.
constexpr const char* kStagingName = ".kiln-prepare.tmp";

[[noreturn]] void bad(const std::string& msg) { throw kernels::InputError("prepare: " + msg); }

void sync_dir(const fs::path& dir) {
  if (!io::fsync_path(dir.string(), true)) bad("cannot sync folder " + dir.string());
}

// Moves the staged run into `out`: shards first (each rename replaces a same-named old shard
// atomically), then old shards this run did not write are deleted (left in place, train_*.h5 would
// feed them to training), then tokenizer/ is swapped (rename cannot replace a non-empty folder).
void commit(const fs::path& staging, const fs::path& out, const std::vector<std::string>& shards) {
  std::error_code ec;
  for (const std::string& name : shards) {
    fs::rename(staging / name, out / name, ec);
    if (ec) bad("cannot move " + (staging / name).string() + " to " + (out / name).string() + ": " + ec.message());
  }
  const std::set<std::string> keep(shards.begin(), shards.end());
  for (const auto& e : fs::directory_iterator(out, ec)) {
    const std::string n = e.path().filename().string();
    std::error_code ignore;
    if (is_shard_name(n) && !keep.count(n)) fs::remove(e.path(), ignore);
  }
  fs::remove_all(out / "tokenizer", ec);
  fs::rename(staging / "tokenizer", out / "tokenizer", ec);
  if (ec) bad("cannot move " + (staging / "tokenizer").string() + " to " + (out / "tokenizer").string() + ": " + ec.message());
  sync_dir(out);
  fs::remove_all(staging, ec);
}

std::string inputs_for_message(const std::vector<InputFile>& inputs) {
  std::string s;
  for (size_t i = 0; i < inputs.size() && i < 3; ++i) s += (i ? ", " : "") + inputs[i].path;
  if (inputs.size() > 3) s += ", ... (" + std::to_string(inputs.size()) + " inputs)";
  return s;
}

}  // namespace

std::string PrepareStatus::line() const {
  const double s = std::max(seconds, 1e-9);
  char buf[200];
  std::snprintf(buf, sizeof buf, "prepare: %lld docs (%.0f/s) | %.1f MB (%.2f MB/s) | %.2fM tokens | %.1f s",
                (long long)docs, double(docs) / s, double(bytes) / 1e6, double(bytes) / 1e6 / s,
                double(tokens) / 1e6, seconds);
  return buf;
}

PrepareSummary prepare(const PrepareOptions& opt) { return prepare(opt, PrepareProgress{}); }

PrepareSummary prepare(const PrepareOptions& opt, const PrepareProgress& progress) {
  // !(x >= 0 && x < 1) also rejects NaN.
  if (!(opt.val_fraction >= 0 && opt.val_fraction < 1)) {
    std::ostringstream v;  // shortest form: "1", "-0.1", not "1.000000"
    v << opt.val_fraction;
    bad("--val-fraction " + v.str() + " is outside [0, 1)");
  }
  // Messages name the command-line flags: PrepareOptions is what `kiln prepare`'s flags fill.
  if (opt.shard_tokens <= 0) bad("--shard-tokens " + std::to_string(opt.shard_tokens) + " must be > 0");
  if (opt.threads < 0 || opt.threads > kMaxPrepareThreads)
    bad("--threads " + std::to_string(opt.threads) + " must be in [0, " + std::to_string(kMaxPrepareThreads) +
        "] (0 = every core)");
  if (opt.inputs.empty()) bad("no inputs given (expected text files, .jsonl files, folders or -)");
  if (opt.out_dir.empty()) bad("no output folder given");
  if (opt.slice_bytes == 0) bad("slice_bytes must be > 0");
  if (opt.jsonl_key.empty()) bad("jsonl_key is empty (expected the name of the field holding the text)");
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = resolve_tokenizer(opt.tokenizer);
  } catch (const kernels::InputError& e) {
    bad(e.what());
  }
  const std::vector<InputFile> inputs = list_inputs(opt.inputs, opt.out_dir, opt.stdin_jsonl);

  // From here on files are written; on any failure the staging folder (and an output folder this
  // run created) are removed again.
  std::error_code ec;
  const fs::path out(opt.out_dir), staging = out / kStagingName;
  const bool out_existed = fs::exists(out, ec);
  fs::create_directories(out, ec);
  if (!fs::is_directory(out, ec)) bad("cannot create output folder " + opt.out_dir);
  fs::remove_all(staging, ec);  // a crashed run's leftovers
  fs::create_directories(staging, ec);
  if (ec) bad("cannot create " + staging.string() + ": " + ec.message());

  PrepareSummary sum;
  try {
    tok->save((staging / "tokenizer").string());
    sync_dir(staging / "tokenizer");
    // Declared before the sinks, so it is joined after them: queued writes never outlive the run.
    ShardWriterThread writer;
    ShardSink train(staging.string(), out.string(), "train", opt.shard_tokens, *tok, progress, writer);
    ShardSink val(staging.string(), out.string(), "val", opt.shard_tokens, *tok, progress, writer);
    SplitRouter router(opt.val_fraction, opt.seed, train, val, (staging / "held_document.bin").string());
    PipelineOptions po;
    po.threads = opt.threads > 0 ? opt.threads
                                 : int(std::clamp(std::thread::hardware_concurrency(), 1u, unsigned(kMaxPrepareThreads)));
    po.jsonl_key = opt.jsonl_key;
    // A slice is one chunk of a batch: no larger than a batch, or the in-flight bound would not hold.
    const size_t slice = std::min(opt.slice_bytes, pipeline_batch_bytes(po.threads, po.batch_bytes));
    const Tokenizer& t = *tok;
    DocumentReader reader(inputs, slice, [&t](std::string_view s) { return t.split_point(s); });
    using Clock = std::chrono::steady_clock;
    const Clock::time_point t0 = Clock::now();
    Clock::time_point last_status = t0;
    PrepareStatus st;
    const auto report = [&](bool final) {
      st.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      st.final = final;
      opt.progress(st);
    };
    run_tokenize_pipeline(reader, *tok, po, [&](std::vector<TokenizedChunk>& batch) {
      for (TokenizedChunk& c : batch) {
        st.bytes += int64_t(c.input_bytes);
        if (c.empty_doc) {
          ++sum.empty_docs;
          continue;
        }
        if (c.starts_doc) router.begin_document();
        router.add(c.ids.data(), c.ids.size());
        st.tokens += int64_t(c.ids.size());
        st.docs += c.ends_doc;
      }
      if (opt.progress && Clock::now() - last_status >= std::chrono::duration<double>(opt.progress_interval_s)) {
        last_status = Clock::now();
        report(false);
      }
    });
    if (router.documents() == 0) {
      bad("no text in the inputs " + inputs_for_message(inputs) + " (" + std::to_string(sum.empty_docs) +
          " empty JSONL documents skipped; expected at least one document with text)");
    }
    router.finish();
    train.finish();
    val.finish();
    std::vector<std::string> shards = train.written;
    shards.insert(shards.end(), val.written.begin(), val.written.end());
    commit(staging, out, shards);

    sum.train_docs = train.documents;
    sum.val_docs = val.documents;
    sum.train_tokens = train.tokens;
    sum.val_tokens = val.tokens;
    sum.train_shards = train.shards;
    sum.val_shards = val.shards;
    sum.bytes = st.bytes;
    if (opt.progress) report(true);
    sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  } catch (...) {
    fs::remove_all(staging, ec);
    if (!out_existed) fs::remove(out, ec);  // only if empty: never deletes what was there
    throw;
  }
  return sum;
}

}  // namespace data
