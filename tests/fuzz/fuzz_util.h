// tests/fuzz/fuzz_util.h
// What every fuzz target shares: a scratch file per process for the readers that take a path,
// and the rule that a bad input may only end as kernels::InputError (exit 2 in the CLI). Anything
// else (a crash, a sanitizer report, another exception, an abort) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace kiln_fuzz {

// A per-process path under $TMPDIR (or /tmp), e.g. /tmp/kiln_fuzz_1234_shard.h5.
inline std::string scratch_path(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/kiln_fuzz_" + std::to_string(::getpid()) + "_" + name;
}

inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

}  // namespace kiln_fuzz
