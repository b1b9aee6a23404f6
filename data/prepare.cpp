// data/prepare.cpp
// `kiln prepare`: files and folders of text -> train_NNNNNN.h5 / val_NNNNNN.h5 shards plus the
// tokenizer/ folder, in one output folder (CONTRACTS §4 and §6).
//
// Called by tools/ (the CLI) and tests. All input checks run before anything is written, so bad
// input leaves the output folder untouched. Does not print (progress goes to a callback), does not
// read JSONL or normalise text, and holds one document plus one shard in memory at a time.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "data/io.h"
#include "data/prepare.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "kernels/check.h"
#include "kernels/rng.h"

namespace data {
namespace fs = std::filesystem;

namespace {

// Stream tag for the split draws. The loader keys its shuffles by mix(seed, kShuffle, epoch); a tag
// no epoch count reaches keeps the two streams apart when both use the same seed.
constexpr uint64_t kSplitStream = 0x53504c4954ull;  // "SPLIT"

struct Doc {
  std::string path;
  bool val = false;
};

[[noreturn]] void bad(const std::string& msg) { throw kernels::InputError("prepare: " + msg); }

bool inside(const fs::path& p, const fs::path& dir) {
  return std::mismatch(dir.begin(), dir.end(), p.begin(), p.end()).first == dir.end();
}

// "train_000123.h5" / "val_000007.h5": the names ShardSink writes.
bool is_shard_name(const std::string& n) {
  for (const std::string prefix : {"train_", "val_"}) {
    if (n.size() == prefix.size() + 9 && n.starts_with(prefix) && n.ends_with(".h5") &&
        std::all_of(n.begin() + long(prefix.size()), n.end() - 3, [](char c) { return c >= '0' && c <= '9'; })) {
      return true;
    }
  }
  return false;
}

// What an earlier prepare into `out` left there: its shards (and their .tmp files) and tokenizer
// folders. Re-running on a parent folder must not ingest them as documents.
bool is_prepare_output(const fs::path& p, const fs::path& out) {
  std::string n = p.filename().string();
  if (n.ends_with(".tmp")) n.resize(n.size() - 4);
  return (p.parent_path() == out && is_shard_name(n)) || inside(p, out / "tokenizer") ||
         inside(p, out / "tokenizer.tmp");
}

// Every input in order; a folder contributes its regular files recursively, sorted by path so the
// document indices (and so the split) do not depend on the filesystem's listing order. Inside
// folders, a previous run's output is skipped (is_prepare_output), and so are hidden files and
// folders (names starting with '.': editor backups, .DS_Store, download markers) that are never text
// a user meant to train on; a hidden file named directly as an input is still taken.
std::vector<Doc> collect_documents(const std::vector<std::string>& inputs, const std::string& out_dir) {
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(out_dir, ec);
  std::vector<Doc> docs;
  for (const std::string& in : inputs) {
    const fs::file_status st = fs::status(in, ec);
    if (!fs::exists(st)) bad("input " + in + " does not exist (expected a text file or a folder)");
    std::vector<std::string> files;
    if (fs::is_regular_file(st)) {
      files.push_back(in);
    } else if (fs::is_directory(st)) {
      for (fs::recursive_directory_iterator it(in, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ignore;  // a file that vanished mid-walk is simply not a document
        if (it->path().filename().string().starts_with(".")) {
          if (it->is_directory(ignore)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(ignore) && !is_prepare_output(fs::weakly_canonical(it->path(), ignore), out)) {
          files.push_back(it->path().string());
        }
      }
      if (ec) bad("cannot list input folder " + in + ": " + ec.message());
      if (files.empty()) bad("input folder " + in + " contains no files, so there is no text to prepare");
      std::sort(files.begin(), files.end());
    } else {
      bad("input " + in + " is neither a regular file nor a folder");
    }
    for (std::string& f : files) {
      // Checked up front for every file, before any shard exists.
      const uintmax_t size = fs::file_size(f, ec);
      if (ec) bad("cannot read input file " + f + ": " + ec.message());
      if (size == 0) bad("input file " + f + " is empty (0 bytes); every document needs some text");
      docs.push_back({std::move(f), false});
    }
  }
  if (docs.empty()) bad("no text in the inputs (expected at least one non-empty file)");
  return docs;
}

// Document i goes to val when its draw u_i < val_fraction: a pure function of (seed, i). With a
// nonzero fraction and >= 2 documents both sides must be non-empty, so the draws are then nudged:
// if none fell below the fraction, the document with the smallest u (the nearest miss) goes to
// val; if all did, the one with the largest u goes back to train. A single document always trains
// (a corpus with no train data is useless, an empty val set is allowed).
void split_documents(std::vector<Doc>& docs, double val_fraction, uint64_t seed) {
  const uint64_t key = kernels::mix(seed, kernels::Purpose::kShuffle, kSplitStream);
  std::vector<double> u(docs.size());
  size_t n_val = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    u[i] = kernels::uniform01(key, i);
    docs[i].val = u[i] < val_fraction;
    n_val += docs[i].val;
  }
  if (val_fraction <= 0) return;
  if (docs.size() == 1) {
    docs[0].val = false;
  } else if (n_val == 0) {
    docs[size_t(std::min_element(u.begin(), u.end()) - u.begin())].val = true;
  } else if (n_val == docs.size()) {
    docs[size_t(std::max_element(u.begin(), u.end()) - u.begin())].val = false;
  }
}

std::unique_ptr<Tokenizer> pick_tokenizer(const std::string& name) {
  if (name == "byte") return make_byte_tokenizer();
  if (name == "gpt2") bad("tokenizer gpt2 is not supported by this kiln yet (expected byte)");
  std::error_code ec;
  if (fs::is_directory(name, ec)) return load_tokenizer(name);  // a saved tokenizer folder
  bad("unknown tokenizer '" + name + "' (expected byte or a tokenizer folder)");
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) bad("cannot open input file " + path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (!f.good() && !f.eof()) bad("cannot read input file " + path);
  if (bytes.empty()) bad("input file " + path + " is empty (0 bytes); every document needs some text");
  return bytes;
}

// Packs documents into shards of at most shard_tokens ids, in order, writing each when full. A
// document may span shards; doc_offsets lists only the documents that start in a shard.
class ShardSink {
 public:
  ShardSink(const PrepareOptions& opt, std::string prefix, const Tokenizer& tok, const PrepareProgress& progress)
      : opt_(opt), prefix_(std::move(prefix)), tok_(tok), progress_(progress) {}

  void add_document(const std::vector<uint32_t>& ids) {
    // Invariant: buf_ is never full between calls, so the document starts inside it.
    offsets_.push_back(buf_.size());
    for (size_t done = 0; done < ids.size();) {
      const size_t take = std::min(ids.size() - done, size_t(opt_.shard_tokens) - buf_.size());
      buf_.insert(buf_.end(), ids.begin() + done, ids.begin() + done + take);
      done += take;
      if (buf_.size() == size_t(opt_.shard_tokens)) flush();
    }
    ++documents;
  }

  void finish() {
    if (!buf_.empty()) flush();
  }

  std::set<std::string> written;  // file names, for removing stale shards of an earlier run
  int64_t tokens = 0, documents = 0;
  int shards = 0;

 private:
  void flush() {
    char name[32];
    std::snprintf(name, sizeof name, "%s_%06d.h5", prefix_.c_str(), shards);
    const std::string path = (fs::path(opt_.out_dir) / name).string();
    write_shard(path, buf_, offsets_, tok_.vocab_size(), tok_.eot_token(), tok_.fingerprint());
    if (progress_) {
      progress_("wrote " + path + ": " + std::to_string(buf_.size()) + " tokens, " +
                std::to_string(offsets_.size()) + " documents starting in it");
    }
    written.insert(name);
    tokens += int64_t(buf_.size());
    ++shards;
    buf_.clear();
    offsets_.clear();
  }

  const PrepareOptions& opt_;
  std::string prefix_;
  const Tokenizer& tok_;
  const PrepareProgress& progress_;
  std::vector<uint32_t> buf_;
  std::vector<uint64_t> offsets_;
};

// OUT/tokenizer/ appears whole or not at all: saved into tokenizer.tmp/, fsynced, swapped in.
void save_tokenizer_folder(const Tokenizer& tok, const std::string& out_dir) {
  const fs::path dst = fs::path(out_dir) / "tokenizer", tmp = fs::path(out_dir) / "tokenizer.tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  tok.save(tmp.string());
  if (!io::fsync_path(tmp.string(), true)) bad("cannot sync " + tmp.string());
  fs::remove_all(dst, ec);  // rename cannot replace a non-empty folder
  fs::rename(tmp, dst, ec);
  if (ec) bad("cannot rename " + tmp.string() + " to " + dst.string() + ": " + ec.message());
  io::fsync_path(out_dir, true);
}

// A shard named like ours but not written by this run belongs to an earlier run with more shards;
// left in place, train_*.h5 would silently feed it to training.
void remove_stale_shards(const std::string& out_dir, const std::set<std::string>& keep) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out_dir, ec)) {
    const std::string n = e.path().filename().string();
    if (is_shard_name(n) && !keep.count(n)) fs::remove(e.path(), ec);
  }
}

}  // namespace

PrepareSummary prepare(const PrepareOptions& opt) { return prepare(opt, PrepareProgress{}); }

PrepareSummary prepare(const PrepareOptions& opt, const PrepareProgress& progress) {
  // !(x >= 0 && x < 1) also rejects NaN.
  if (!(opt.val_fraction >= 0 && opt.val_fraction < 1)) {
    std::ostringstream v;  // shortest form: "1", "-0.1", not "1.000000"
    v << opt.val_fraction;
    bad("val_fraction " + v.str() + " is outside [0, 1)");
  }
  if (opt.shard_tokens <= 0) bad("shard_tokens " + std::to_string(opt.shard_tokens) + " must be > 0");
  if (opt.inputs.empty()) bad("no inputs given (expected text files or folders)");
  if (opt.out_dir.empty()) bad("no output folder given");
  const std::unique_ptr<Tokenizer> tok = pick_tokenizer(opt.tokenizer);
  std::vector<Doc> docs = collect_documents(opt.inputs, opt.out_dir);
  split_documents(docs, opt.val_fraction, opt.seed);

  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  if (!fs::is_directory(opt.out_dir)) bad("cannot create output folder " + opt.out_dir);
  save_tokenizer_folder(*tok, opt.out_dir);

  // Train first, then val, each in document order; a document is read only when its turn comes.
  ShardSink train(opt, "train", *tok, progress), val(opt, "val", *tok, progress);
  for (const bool want_val : {false, true}) {
    ShardSink& sink = want_val ? val : train;
    for (const Doc& d : docs) {
      if (d.val == want_val) sink.add_document(tok->encode(read_file(d.path)));
    }
    sink.finish();
  }
  std::set<std::string> keep = train.written;
  keep.insert(val.written.begin(), val.written.end());
  remove_stale_shards(opt.out_dir, keep);

  PrepareSummary s;
  s.train_docs = train.documents;
  s.val_docs = val.documents;
  s.train_tokens = train.tokens;
  s.val_tokens = val.tokens;
  s.train_shards = train.shards;
  s.val_shards = val.shards;
  return s;
}

}  // namespace data
