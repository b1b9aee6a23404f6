// tests/fuzz/fuzz_manifest.cpp
// libFuzzer target: checkpoint manifests (checkpoint/manifest.cpp) and the config embedded in
// them. The checksum line is recomputed first, so the fuzzer explores the parser instead of being
// stopped by the CRC every time. Only kernels::InputError may come out; every accepted manifest
// must have slices inside their tensors (the validation the loader relies on).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "checkpoint/internal.h"
#include "configs/load.h"
#include "configs/validate.h"
#include "kernels/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  const size_t at = text.rfind("\nmanifest_crc32c: ");
  if (at != std::string::npos) text.resize(at + 1);
  char crc[32];
  std::snprintf(crc, sizeof crc, "manifest_crc32c: %08x\n", checkpoint::crc32c(text.data(), text.size()));
  text += crc;
  try {
    const checkpoint::Manifest m = checkpoint::detail::parse_manifest(text, "fuzz/manifest.yaml");
    for (const auto& e : m.tensors) {
      const int64_t local = parallel::local_shape(e.global_shape, e.split, e.tp).numel();
      for (const auto& s : e.slices)
        if (s.local_begin < 0 || s.count <= 0 || s.local_begin > local || s.count > local - s.local_begin) std::abort();
    }
    configs::validate(configs::config_from_yaml_string(m.state.config_yaml, "fuzz/manifest.yaml (config)"));
  } catch (const kernels::InputError&) {
  }
  return 0;
}
