// tests/fuzz/fuzz_tokenizer.cpp
// libFuzzer target: GPT-2 tokenizer files. The input is encoder.json, a line "#@vocab.bpe", then
// vocab.bpe; both are written into a scratch folder and loaded. A tokenizer that loads must
// encode and decode a fixed text without crashing, every id < vocab_size. Only kernels::InputError
// may come out.
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/tokenizer.h"
#include "data/tokenizer_gpt2.h"
#include "kernels/check.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    const std::string d = kiln_fuzz::scratch_path("gpt2");
    ::mkdir(d.c_str(), 0700);
    return d;
  }();
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("\n#@vocab.bpe\n");
  const std::string encoder = input.substr(0, split);
  const std::string merges = split == std::string::npos ? "#version: 0.2\n" : input.substr(split + 13);
  kiln_fuzz::write_bytes(dir + "/encoder.json", reinterpret_cast<const uint8_t*>(encoder.data()), encoder.size());
  kiln_fuzz::write_bytes(dir + "/vocab.bpe", reinterpret_cast<const uint8_t*>(merges.data()), merges.size());
  try {
    const std::unique_ptr<data::Tokenizer> tok = data::load_gpt2_tokenizer(dir);
    const std::vector<uint32_t> ids = tok->encode("Call me Ishmael. \xff 123  it's\n");
    for (uint32_t id : ids)
      if (id >= uint32_t(tok->vocab_size())) std::abort();
    tok->decode(ids);
  } catch (const kernels::InputError&) {
  }
  return 0;
}
