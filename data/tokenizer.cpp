// data/tokenizer.cpp
// The byte tokenizer (one id per byte, 256 ids, no end-of-text token), load_tokenizer(), the one
// place that turns a tokenizer folder back into a Tokenizer, and resolve_tokenizer() for the
// `--tokenizer byte|gpt2|PATH` flag.
//
// Called by prepare() (encode + save into OUT/tokenizer/), the trainer (copies the folder into each
// checkpoint), the evaluator (token_bytes for bits per byte) and `kiln sample` (decode). GPT-2 BPE
// itself lives in data/tokenizer_gpt2.cpp; this file only recognises its folders.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "data/io.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "data/tokenizer_gpt2.h"
#include "kernels/check.h"
#include "kernels/yaml_strict.h"

namespace data {
namespace fs = std::filesystem;

namespace {

constexpr const char* kYamlName = "tokenizer.yaml";

// The exact bytes save() writes. The fingerprint hashes them, so a changed file is a changed
// tokenizer even when the type stays "byte".
constexpr const char* kByteYaml =
    "# kiln tokenizer folder: ids 0..255 are the byte values, there is no end-of-text token\n"
    "type: byte\n"
    "vocab_size: 256\n";

// FNV-1a, 64 bit: stable across platforms and builds, which std::hash is not.
uint64_t fnv1a64(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

class ByteTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return "byte"; }
  int vocab_size() const override { return 256; }
  int eot_token() const override { return -1; }

  std::vector<uint32_t> encode(const std::string& bytes) const override {
    std::vector<uint32_t> ids(bytes.size());
    // Through unsigned char: a plain char is signed here, and 0xFF must become 255, not -1.
    for (size_t i = 0; i < bytes.size(); ++i) ids[i] = static_cast<unsigned char>(bytes[i]);
    return ids;
  }

  std::string decode(const std::vector<uint32_t>& ids) const override {
    std::string out(ids.size(), '\0');
    for (size_t i = 0; i < ids.size(); ++i) {
      // Ids past 255 can only come from a model whose padded vocabulary was sampled: bad input to
      // decode, not a reason to emit garbage.
      if (ids[i] > 255) {
        throw kernels::InputError("byte tokenizer: id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " is not a byte (expected 0..255)");
      }
      out[i] = static_cast<char>(static_cast<unsigned char>(ids[i]));
    }
    return out;
  }

  int token_bytes(uint32_t id) const override { return id < 256 ? 1 : 0; }
  size_t split_point(std::string_view text) const override { return text.size() >= 2 ? text.size() - 1 : 0; }

  void save(const std::string& dir) const override {
    std::error_code ec;
    fs::create_directories(dir, ec);
    const std::string file = (fs::path(dir) / kYamlName).string();
    if (ec || !io::write_file_synced(file, kByteYaml)) {
      throw kernels::InputError("cannot write tokenizer file " + file + " (expected a writable folder)");
    }
  }

  std::string fingerprint() const override { return "byte:" + fingerprint_hash(kByteYaml); }
};

// One message shape for every problem inside tokenizer.yaml.
[[noreturn]] void bad_yaml(const std::string& file, const std::string& problem) {
  throw kernels::InputError("tokenizer file " + file + ": " + problem);
}

// vocab_size in tokenizer.yaml is informational, but a different number means the folder belongs to
// something else: refuse rather than guess.
void check_vocab_size(const YAML::Node& root, const std::string& file, const std::string& type, int expected) {
  const YAML::Node v = root["vocab_size"];
  if (!v) return;
  const std::string want = std::to_string(expected) + " for type " + type;
  long long n = -1;
  try {
    n = v.as<long long>();
  } catch (const YAML::Exception&) {
    bad_yaml(file, "vocab_size is not an integer (expected " + want + ")");
  }
  if (n != expected) bad_yaml(file, "vocab_size is " + std::to_string(n) + ", expected " + want);
}

}  // namespace

// 12 hex digits (48 bits) are plenty to tell tokenizers apart and short enough to read in h5dump.
std::string fingerprint_hash(const std::string& bytes) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a64(bytes)));
  return std::string(buf, 12);
}

std::unique_ptr<Tokenizer> make_byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw kernels::InputError("tokenizer folder " + dir +
                              " does not exist or is not a folder (expected a folder holding " +
                              kYamlName + ")");
  }
  const std::string file = (fs::path(dir) / kYamlName).string();
  if (!fs::is_regular_file(file, ec)) {
    // encoder.json + vocab.bpe alone, as OpenAI and the npm package ship them, is a GPT-2 folder.
    if (fs::exists(fs::path(dir) / kGpt2EncoderFile, ec) || fs::exists(fs::path(dir) / kGpt2MergesFile, ec)) {
      return load_gpt2_tokenizer(dir);
    }
    throw kernels::InputError("tokenizer folder " + dir + " has no " + kYamlName +
                              " (expected a file saying `type: byte`, or GPT-2's " + kGpt2EncoderFile +
                              " and " + kGpt2MergesFile + ")");
  }
  YAML::Node root;
  try {
    root = kernels::load_yaml_strict(kernels::read_user_text_file(file, "tokenizer file"), file);
  } catch (const YAML::Exception& e) {
    bad_yaml(file, std::string("not valid YAML: ") + e.what());
  }
  if (!root.IsMap()) bad_yaml(file, "expected a mapping such as `type: byte`");
  const YAML::Node type = root["type"];
  if (!type || !type.IsScalar()) bad_yaml(file, "no `type` key (expected `type: byte`)");
  const std::string t = type.Scalar();

  if (t == "byte") {
    check_vocab_size(root, file, t, 256);
    return make_byte_tokenizer();
  }
  if (t == "gpt2") {
    std::unique_ptr<Tokenizer> tok = load_gpt2_tokenizer(dir);
    check_vocab_size(root, file, t, tok->vocab_size());
    return tok;
  }
  bad_yaml(file, "unknown tokenizer type '" + t + "' (expected byte or gpt2)");
}

std::unique_ptr<Tokenizer> resolve_tokenizer(const std::string& spec) {
  std::error_code ec;
  if (spec == "byte") return make_byte_tokenizer();
  if (spec == "gpt2") {
    const std::string dir = gpt2_cache_dir();
    if (dir.empty() || !fs::is_directory(dir, ec)) {
      throw kernels::InputError(
          "tokenizer gpt2: no GPT-2 files in " + (dir.empty() ? std::string("$KILN_CACHE/tokenizers/gpt2") : dir) +
          " (gpt2 reads $KILN_CACHE/tokenizers/gpt2, else ~/.cache/kiln/tokenizers/gpt2): run scripts/setup.sh, "
          "which fills <repo>/.cache, and export KILN_CACHE=<repo>/.cache, or pass --tokenizer PATH to a folder "
          "holding encoder.json and vocab.bpe");
    }
    return load_tokenizer(dir);
  }
  if (fs::is_directory(spec, ec)) return load_tokenizer(spec);
  throw kernels::InputError("unknown tokenizer '" + spec + "' (expected byte, gpt2 or an existing tokenizer folder)");
}

std::string shard_tokenizer_dir(const std::string& shard_glob) {
  const std::vector<std::string> shards = expand_glob(shard_glob);
  if (shards.empty()) return "";
  const fs::path dir = fs::path(shards.front()).parent_path() / "tokenizer";
  std::error_code ec;
  return fs::is_directory(dir, ec) ? dir.string() : "";
}

}  // namespace data
