// data/inspect.cpp
// inspect_shards() and verify_shard(): the shard half of `kiln inspect`.
//
// Called by tools/cmd_inspect.cpp and tests/data/test_inspect.cpp. Reuses the reader's checks
// (read_shard_info for attributes and dtype, ShardReader for ids) and adds what only a full pass
// can see: the ids past the last training window, /doc_offsets, agreement between files, and the
// tokenizer folder. Prints nothing; the command formats the report.
#include "data/inspect.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "data/tokenizer.h"
#include "kernels/check.h"

namespace data {
namespace fs = std::filesystem;
namespace {

// Ids per read while verifying: 16 default chunks, 4 MB of int32. Large enough that HDF5's per-call
// cost vanishes, small enough that memory does not grow with the shard.
constexpr int64_t kVerifyBlock = 16 * 64 * 1024;

[[noreturn]] void bad(const std::string& path, const std::string& problem) {
  throw kernels::InputError("shard " + path + ": " + problem);
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The shard files a path names: itself, or the *.h5 files directly inside a folder (train_*, val_*
// and any other name; NAME.h5.tmp leftovers of an interrupted write do not end in .h5).
std::vector<std::string> list_shards(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw kernels::InputError("inspect: " + path + " does not exist");
  if (!fs::is_directory(path, ec)) return {path};
  std::vector<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
    if (e.path().extension() == ".h5" && e.is_regular_file(ec)) files.push_back(e.path().string());
  }
  if (ec) throw kernels::InputError("inspect: cannot list folder " + path + ": " + ec.message());
  if (files.empty()) {
    throw kernels::InputError("inspect: folder " + path + " holds no *.h5 token shards (expected the "
                              "output folder of `kiln prepare`: train_*.h5, val_*.h5, tokenizer/)");
  }
  std::sort(files.begin(), files.end());  // byte order, as expand_glob: stable across locales
  return files;
}

// Every shard must agree with the first on what its ids mean.
void check_agreement(const ShardInfo& first, const ShardInfo& s) {
  auto differ = [&](const char* what, const std::string& a, const std::string& b) {
    bad(s.path, std::string(what) + " is " + a + " but shard " + first.path + " has " + b +
                    "; all shards of one corpus must agree");
  };
  if (s.vocab_size != first.vocab_size) {
    differ("vocab_size", std::to_string(s.vocab_size), std::to_string(first.vocab_size));
  }
  if (s.eot_token != first.eot_token) differ("eot_token", std::to_string(s.eot_token), std::to_string(first.eot_token));
  if (s.tokenizer != first.tokenizer) differ("tokenizer", s.tokenizer, first.tokenizer);
}

// The tokenizer folder must decode what the shards encode: same files (fingerprint), same size.
void verify_tokenizer(const ShardSetReport& r) {
  const std::unique_ptr<Tokenizer> tok = load_tokenizer(r.tokenizer_dir);  // InputError names the folder
  const std::string& shard = r.shards.front().path;
  auto mismatch = [&](const std::string& what) {
    throw kernels::InputError("tokenizer folder " + r.tokenizer_dir + " does not match shard " + shard + ": " + what);
  };
  if (tok->fingerprint() != r.tokenizer) {
    mismatch("its fingerprint is " + tok->fingerprint() + ", the shard says " + r.tokenizer);
  }
  if (tok->vocab_size() != r.vocab_size) {
    mismatch("vocab_size " + std::to_string(tok->vocab_size()) + " vs " + std::to_string(r.vocab_size));
  }
  if (tok->eot_token() != r.eot_token) {
    mismatch("eot_token " + std::to_string(tok->eot_token()) + " vs " + std::to_string(r.eot_token));
  }
}

}  // namespace

void verify_shard(const ShardInfo& info) {
  ShardReader reader(info);
  std::vector<int32_t> ids(size_t(std::min(info.num_tokens, kVerifyBlock)));
  for (int64_t at = 0; at < info.num_tokens; at += kVerifyBlock) {
    reader.read_tokens(at, std::min(kVerifyBlock, info.num_tokens - at), ids.data());  // checks ids
  }
  std::vector<uint64_t> offsets(size_t(std::min(info.num_docs, kVerifyBlock)));
  uint64_t prev = 0;
  for (int64_t at = 0; at < info.num_docs; at += kVerifyBlock) {
    const int64_t n = std::min(kVerifyBlock, info.num_docs - at);
    reader.read_doc_offsets(at, n, offsets.data());
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t v = offsets[size_t(i)];
      const std::string where = "doc_offsets[" + std::to_string(at + i) + "] = " + std::to_string(v);
      if (v >= uint64_t(info.num_tokens)) {
        bad(info.path, where + " is not inside /tokens (" + std::to_string(info.num_tokens) + " tokens)");
      }
      if (at + i > 0 && v <= prev) {
        bad(info.path, where + " does not increase (the previous entry is " + std::to_string(prev) +
                           "); documents must start in order");
      }
      prev = v;
    }
  }
}

ShardSetReport inspect_shards(const std::string& path, bool verify) {
  ShardSetReport r;
  r.path = path;
  for (const std::string& f : list_shards(path)) {
    r.shards.push_back(read_shard_info(f));
    const ShardInfo& s = r.shards.back();
    check_agreement(r.shards.front(), s);
    r.tokens += s.num_tokens;
    r.documents += s.num_docs;
    const std::string name = fs::path(f).filename().string();
    if (starts_with(name, "train_")) ++r.train_files, r.train_tokens += s.num_tokens;
    if (starts_with(name, "val_")) ++r.val_files, r.val_tokens += s.num_tokens;
  }
  const ShardInfo& first = r.shards.front();
  r.vocab_size = first.vocab_size;
  r.eot_token = first.eot_token;
  r.tokenizer = first.tokenizer;
  r.dtype = first.vocab_size <= 65536 ? "uint16" : "uint32";  // read_shard_info enforced it

  std::error_code ec;
  const bool is_folder = fs::is_directory(path, ec);
  const fs::path tok_dir = (is_folder ? fs::path(path) : fs::path(path).parent_path()) / "tokenizer";
  if (fs::is_directory(tok_dir, ec)) r.tokenizer_dir = tok_dir.string();
  if (!verify) return r;

  for (const ShardInfo& s : r.shards) verify_shard(s);
  // A folder is what `kiln prepare` writes, and sample / bits per byte need its tokenizer; a single
  // file may have been copied on its own, so there the folder is only checked when present.
  if (r.tokenizer_dir.empty() && is_folder) {
    throw kernels::InputError("inspect: folder " + path + " has no tokenizer/ folder (expected the one "
                              "`kiln prepare` writes beside the shards, needed to decode their ids)");
  }
  if (!r.tokenizer_dir.empty()) verify_tokenizer(r);
  r.verified = true;
  return r;
}

}  // namespace data
