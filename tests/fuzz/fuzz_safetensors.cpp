// tests/fuzz/fuzz_safetensors.cpp
// libFuzzer target: the safetensors reader (checkpoint/safetensors.h) on arbitrary file bytes,
// then every float tensor it accepted read back. Only kernels::InputError may come out.
#include <cstdint>
#include <cstdlib>

#include "checkpoint/safetensors.h"
#include "kernels/check.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = kiln_fuzz::scratch_path("model.safetensors");
  kiln_fuzz::write_bytes(path, data, size);
  try {
    const checkpoint::SafetensorsFile f = checkpoint::read_safetensors(path);
    for (const checkpoint::SafetensorsInfo& t : f.tensors) {
      if (t.begin < 0 || t.end < t.begin) std::abort();
      try {
        f.as_float(t.name);
      } catch (const kernels::InputError&) {  // an integer tensor: refused by name
      }
    }
  } catch (const kernels::InputError&) {
  }
  return 0;
}
