// tools/cmd_inspect.cpp
// `kiln inspect PATH [--verify]`: describe (and with --verify, fully check) what PATH holds.
//
// Registered by main.cpp. PATH is dispatched to the first inspector in kInspectors whose matcher
// accepts it; each prints human-readable lines and returns the JSON object that becomes the last
// line of stdout (CONTRACTS §1, §6): token shards and checkpoints (CONTRACTS §5, listed first,
// because a checkpoint folder holds *.h5 files too). Bad input is a kernels::InputError naming the file (exit 2 via main.cpp); this file does no
// checking of its own beyond choosing the inspector: data/inspect.cpp decides what is valid.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "checkpoint/inspect.h"
#include "data/inspect.h"
#include "kernels/check.h"
#include "tools/commands.h"

namespace tools {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keys in the order written: the JSON line reads like the table

struct InspectArgs {
  std::string path;
  bool verify = false;
};

struct Inspector {
  const char* kind;                                          // the JSON "kind" field
  bool (*matches)(const fs::path& path);
  Json (*describe)(const std::string& path, bool verify);    // prints the table, returns the summary
};

// A single file (the reader says whether it really is a shard) or a folder, which then must hold
// *.h5 shards; being the last inspector, it also produces the error for anything unrecognised.
bool is_shard_path(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) || fs::is_directory(path, ec);
}

std::string short_name(const std::string& file, bool in_folder) {
  return in_folder ? fs::path(file).filename().string() : file;
}

Json describe_shards(const std::string& path, bool verify) {
  const data::ShardSetReport r = data::inspect_shards(path, verify);
  std::error_code ec;
  const bool folder = fs::is_directory(path, ec);
  std::printf("kiln inspect | %s | %zu shard file%s | tokenizer %s | vocab_size %d | eot %d | %s\n", path.c_str(),
              r.shards.size(), r.shards.size() == 1 ? "" : "s", r.tokenizer.c_str(), r.vocab_size, r.eot_token,
              r.dtype.c_str());
  std::printf("  %-28s %14s %12s %6s %6s %-7s %s\n", "file", "tokens", "documents", "vocab", "eot", "dtype", "tokenizer");
  for (const data::ShardInfo& s : r.shards) {
    std::printf("  %-28s %14lld %12lld %6d %6d %-7s %s\n", short_name(s.path, folder).c_str(),
                (long long)s.num_tokens, (long long)s.num_docs, s.vocab_size, s.eot_token, r.dtype.c_str(),
                s.tokenizer.c_str());
  }
  std::printf("  %-28s %14lld %12lld   (train: %lld files, %lld tokens | val: %lld files, %lld tokens)\n", "total",
              (long long)r.tokens, (long long)r.documents, (long long)r.train_files, (long long)r.train_tokens,
              (long long)r.val_files, (long long)r.val_tokens);
  std::printf("  tokenizer folder: %s\n", r.tokenizer_dir.empty() ? "none beside the shards" : r.tokenizer_dir.c_str());
  if (verify) {
    std::printf("  verified: every id < vocab_size, doc_offsets increasing inside /tokens, attributes agree%s\n",
                r.tokenizer_dir.empty() ? "" : ", tokenizer folder loads and matches");
  } else {
    std::printf("  not verified (attributes only): run with --verify to read every id\n");
  }

  Json j;
  j["kind"] = "shards";
  j["path"] = path;
  j["files"] = r.shards.size();
  j["tokens"] = r.tokens;
  j["documents"] = r.documents;
  j["train_files"] = r.train_files;
  j["train_tokens"] = r.train_tokens;
  j["val_files"] = r.val_files;
  j["val_tokens"] = r.val_tokens;
  j["vocab_size"] = r.vocab_size;
  j["eot_token"] = r.eot_token;
  j["tokenizer"] = r.tokenizer;
  j["dtype"] = r.dtype;
  j["tokenizer_dir"] = r.tokenizer_dir.empty() ? Json(nullptr) : Json(r.tokenizer_dir);
  j["verified"] = r.verified;
  return j;
}

// A checkpoint folder (manifest.yaml) or a checkpoints folder (`latest`, which is followed).
bool is_checkpoint_path(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) &&
         (fs::exists(path / "manifest.yaml", ec) || fs::exists(path / "latest", ec));
}

// checkpoint::print_inspect prints its table and its JSON line itself: return null so it is not
// printed twice.
Json describe_checkpoint(const std::string& path, bool verify) {
  checkpoint::print_inspect(path, verify);
  return Json(nullptr);
}

// First match wins: checkpoints before shards, because a checkpoint folder holds *.h5 files too.
const Inspector kInspectors[] = {
    {"checkpoint", is_checkpoint_path, describe_checkpoint},
    {"shards", is_shard_path, describe_shards},
};

void run_inspect(const InspectArgs& a) {
  std::error_code ec;
  if (!fs::exists(a.path, ec)) {
    throw kernels::InputError("inspect: " + a.path + " does not exist (expected a token shard file, a folder of them, or a checkpoint)");
  }
  for (const Inspector& in : kInspectors) {
    if (!in.matches(a.path)) continue;
    const Json summary = in.describe(a.path, a.verify);
    // Invalid UTF-8 in an attribute must not turn a finished inspection into a crash.
    if (!summary.is_null()) std::printf("%s\n", summary.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    return;
  }
  throw kernels::InputError("inspect: " + a.path + " is neither a token shard file, a folder of them, nor a checkpoint folder");
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Describe, and with --verify fully check, token shards or a checkpoint.");
  cmd->add_option("path", args->path, "a token shard (.h5), a folder of them (train_*.h5, val_*.h5, tokenizer/), a checkpoint folder (manifest.yaml) or a checkpoints folder (latest)")
      ->required();
  cmd->add_flag("--verify", args->verify,
                "read everything: shards: every id < vocab_size, doc_offsets, attributes, and that tokenizer/ "
                "loads and matches; checkpoints: every slice's CRC32C");
  cmd->footer("Prints one line per shard (or per checkpoint tensor) and totals; the last line of stdout is one JSON object.\n"
              "Exit codes: 0 fine, 2 a bad or inconsistent file (the message names it).");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace tools
