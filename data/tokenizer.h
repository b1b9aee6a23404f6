// data/tokenizer.h
// Tokenizers behind one interface. A tokenizer lives in a folder (the shard folder's tokenizer/,
// and every checkpoint's copy of it) so ids can always be decoded back to bytes.
//
// The folder holds `tokenizer.yaml` with `type: byte` (and later `type: gpt2` beside encoder.json
// and vocab.bpe). Bits per byte needs token_bytes(): how many bytes of text each id stands for.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;     // "byte"
  virtual int vocab_size() const = 0;       // number of real ids
  virtual int eot_token() const = 0;        // -1 when the tokenizer has none
  virtual std::vector<uint32_t> encode(const std::string& bytes) const = 0;
  virtual std::string decode(const std::vector<uint32_t>& ids) const = 0;
  virtual int token_bytes(uint32_t id) const = 0;  // bytes of text id decodes to (0 for specials)
  // Writes the files that load_tokenizer() reads back into `dir` (created if needed).
  virtual void save(const std::string& dir) const = 0;
  // "<name>:<hash of its files>", stored in every shard's `tokenizer` attribute.
  virtual std::string fingerprint() const = 0;
};

std::unique_ptr<Tokenizer> make_byte_tokenizer();
// Reads a tokenizer folder; throws InputError naming the folder/file on anything missing or bad.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir);

}  // namespace data
