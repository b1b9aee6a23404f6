// data/tokenizer_hf.cpp
// kiln tokenizers as Hugging Face GPT-2 tokenizer files (see tokenizer_hf.h).
//
// Both kiln tokenizers are byte-level BPE in Hugging Face's terms:
//  - gpt2: vocab.json IS OpenAI's encoder.json and merges.txt IS vocab.bpe (Hugging Face's gpt2
//    repository ships exactly those files under these names), so they are copied byte for byte.
//  - byte (id b = byte b, 256 ids, no end-of-text token): a byte-level BPE with NO merges.
//    GPT2Tokenizer maps every byte of the text to the character bytes_to_unicode() gives it, then
//    merges pairs listed in merges.txt; with none listed each byte stays one token, looked up in
//    vocab.json, which maps byte b's character to b. So the ids equal kiln's, one per byte. Its
//    special tokens stay null: GPT2Tokenizer would otherwise add "<|endoftext|>" as id 256, an id
//    the model does not have.
#include "data/tokenizer_hf.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "data/io.h"
#include "data/tokenizer_gpt2.h"
#include "kernels/check.h"

namespace data {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // files read in the order written

// merges.txt starts with a version line that both Hugging Face loaders skip.
constexpr const char* kMergesVersionLine = "#version: 0.2\n";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw kernels::InputError("cannot read tokenizer file " + path.string() + " (missing or unreadable)");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write(const fs::path& path, const std::string& bytes) {
  if (!io::write_file_synced(path.string(), bytes))
    throw kernels::InputError("cannot write " + path.string() + " (expected a writable folder)");
}

// {byte b's bytes_to_unicode character: b} for b = 0..255.
std::string byte_vocab_json() {
  const std::vector<std::string> chars = gpt2_byte_chars();
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[chars[size_t(b)]] = b;
  return vocab.dump() + "\n";
}

}  // namespace

std::vector<std::string> write_hf_tokenizer(const Tokenizer& tok, const std::string& tokenizer_dir,
                                            const std::string& out_dir, int model_max_length) {
  const fs::path out(out_dir);
  std::string vocab_json, merges_txt;
  if (tok.name() == "gpt2") {
    vocab_json = read_file(fs::path(tokenizer_dir) / kGpt2EncoderFile);
    merges_txt = read_file(fs::path(tokenizer_dir) / kGpt2MergesFile);
  } else if (tok.name() == "byte") {
    vocab_json = byte_vocab_json();
    merges_txt = kMergesVersionLine;
  } else {
    throw kernels::InputError("tokenizer " + tok.name() + " (" + tokenizer_dir +
                              ") has no Hugging Face equivalent (expected byte or gpt2)");
  }
  // GPT-2 uses its end-of-text token for bos, eos and unk (as Hugging Face's gpt2 does); a
  // tokenizer without one gets null, which adds no token beyond the vocabulary.
  const Json special = tok.eot_token() >= 0 ? Json(kGpt2EotText) : Json(nullptr);
  Json config;
  config["tokenizer_class"] = "GPT2Tokenizer";
  config["model_max_length"] = model_max_length;
  config["bos_token"] = special;
  config["eos_token"] = special;
  config["unk_token"] = special;
  config["pad_token"] = nullptr;
  config["add_prefix_space"] = false;
  config["add_bos_token"] = false;
  config["errors"] = "replace";                    // decode: ill-formed UTF-8 -> U+FFFD, never an exception
  config["clean_up_tokenization_spaces"] = false;  // decode(encode(text)) == text, as kiln's decode
  Json special_map = Json::object();
  if (!special.is_null()) special_map = {{"bos_token", special}, {"eos_token", special}, {"unk_token", special}};

  write(out / "vocab.json", vocab_json);
  write(out / "merges.txt", merges_txt);
  write(out / "tokenizer_config.json", config.dump(2) + "\n");
  write(out / "special_tokens_map.json", special_map.dump(2) + "\n");
  return {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"};
}

}  // namespace data
