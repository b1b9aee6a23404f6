// data/tokenizer.h
// Tokenizers behind one interface. A tokenizer lives in a folder (the shard folder's tokenizer/,
// and every checkpoint's copy of it) so ids can always be decoded back to bytes.
//
// The folder holds `tokenizer.yaml` with `type: byte`, or `type: gpt2` beside encoder.json and
// vocab.bpe (a folder with just those two files is GPT-2 too: the files OpenAI and npm ship).
// Bits per byte needs token_bytes(): how many bytes of text each id stands for.
// encode() and the other const methods may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;     // "byte", "gpt2"
  virtual int vocab_size() const = 0;       // number of real ids
  virtual int eot_token() const = 0;        // -1 when the tokenizer has none
  virtual std::vector<uint32_t> encode(const std::string& bytes) const = 0;
  virtual std::string decode(const std::vector<uint32_t>& ids) const = 0;
  virtual int token_bytes(uint32_t id) const = 0;  // bytes of text id decodes to (0 for specials)
  // A p in [1, text.size()) with encode(text + rest) == encode(text[0,p)) + encode(text[p,) + rest)
  // for every rest, or 0 for none. prepare() cuts huge documents there to stream them.
  virtual size_t split_point(std::string_view text) const {
    (void)text;
    return 0;  // a tokenizer that does not know sees whole documents
  }
  // Writes the files that load_tokenizer() reads back into `dir` (created if needed).
  virtual void save(const std::string& dir) const = 0;
  // "<name>:<hash of its files>", stored in every shard's `tokenizer` attribute.
  virtual std::string fingerprint() const = 0;
};

std::unique_ptr<Tokenizer> make_byte_tokenizer();
// Reads a tokenizer folder; throws InputError naming the folder/file on anything missing or bad.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir);
// A `--tokenizer` value: "byte", "gpt2" (the folder gpt2_cache_dir() names, see
// data/tokenizer_gpt2.h) or a tokenizer folder. InputError when none of these fits.
std::unique_ptr<Tokenizer> resolve_tokenizer(const std::string& spec);

// The tokenizer/ folder beside the first shard matching a shard glob (CONTRACTS §4), or "" when
// the glob matches nothing or that folder does not exist.
std::string shard_tokenizer_dir(const std::string& shard_glob);

// 12 hex digits of FNV-1a-64 over `bytes`: the hash part of every fingerprint().
std::string fingerprint_hash(const std::string& bytes);

}  // namespace data
