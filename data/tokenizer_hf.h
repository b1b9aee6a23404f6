// data/tokenizer_hf.h
// A kiln tokenizer written as Hugging Face tokenizer files (vocab.json, merges.txt,
// tokenizer_config.json, special_tokens_map.json), so that `AutoTokenizer.from_pretrained(dir)`
// (GPT2Tokenizer or GPT2TokenizerFast) gives the ids kiln gives. One difference is Hugging Face's
// own: it turns the literal text "<|endoftext|>" into the special id, where kiln (like OpenAI's
// encoder) encodes those characters; kiln's end-of-text ids come only from `prepare` itself.
//
// Called by trainer/hf_export.cpp (`kiln export --format hf`). Not here: the model files.
#pragma once

#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace data {

// Writes the files into out_dir (which must exist) and returns their names. `tokenizer_dir` is
// the folder `tok` was loaded from (GPT-2's encoder.json and vocab.bpe are copied from it byte
// for byte). model_max_length: the model's context length. Throws InputError naming the tokenizer
// when it has no Hugging Face equivalent, or a file that cannot be read or written.
std::vector<std::string> write_hf_tokenizer(const Tokenizer& tok, const std::string& tokenizer_dir,
                                            const std::string& out_dir, int model_max_length);

}  // namespace data
