// tests/fuzz/fuzz_shard.cpp
// libFuzzer target: the token shard reader (data/shard.h) on arbitrary file bytes. Every id it
// returns must be < vocab_size; only kernels::InputError may come out. Reads are bounded so a
// shard that claims billions of tokens costs no more than its first and last windows.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data/shard.h"
#include "kernels/check.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = kiln_fuzz::scratch_path("shard.h5");
  kiln_fuzz::write_bytes(path, data, size);
  try {
    const data::ShardInfo info = data::read_shard_info(path);
    data::ShardReader r(info);
    const int64_t n = std::min<int64_t>(info.num_tokens, 4096);
    std::vector<int32_t> ids(size_t(n) + 1);
    for (int64_t begin : {int64_t(0), info.num_tokens - n}) {
      r.read_tokens(begin, n, ids.data());
      for (int64_t i = 0; i < n; ++i)
        if (ids[size_t(i)] < 0 || ids[size_t(i)] >= info.vocab_size) std::abort();  // the reader's promise
    }
    const int64_t d = std::min<int64_t>(info.num_docs, 1024);
    std::vector<uint64_t> offsets(size_t(d) + 1);
    r.read_doc_offsets(0, d, offsets.data());
  } catch (const kernels::InputError&) {
  }
  return 0;
}
