// checkpoint/safetensors.h
// The safetensors file format (Hugging Face's tensor file), written and read by hand:
//
//   8 bytes   N, little-endian uint64: length of the header
//   N bytes   JSON object: {"__metadata__": {str: str}, NAME: {"dtype": "F32", "shape": [..],
//             "data_offsets": [begin, end]}, ...}; offsets are relative to the byte buffer that
//             follows the header; padded with spaces so the buffer starts 8-byte aligned
//   ...       the byte buffer: every tensor row-major, little-endian, back to back, no gaps
//
// Called by trainer/hf_export.cpp (`kiln export --format hf`) and tests. The writer streams: the
// header is fixed by the tensor list up front, then each tensor's bytes are appended in that order,
// so a large model is never held twice in memory. Assumes a little-endian host (x86-64, aarch64).
// Not here: what the tensors mean (names, layouts), anything model-specific.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace checkpoint {

struct SafetensorsInfo {
  std::string name;
  kernels::DType dtype = kernels::DType::F32;
  std::vector<int64_t> shape;  // row-major; empty = scalar
  int64_t begin = 0, end = 0;  // byte range in the data buffer (filled by the writer / reader)
  int64_t nbytes() const { return end - begin; }
};

// "F32", "BF16", ... as the format spells dtypes; fails on a dtype the format cannot hold.
const char* safetensors_dtype_name(kernels::DType d);

// Writes PATH atomically: everything goes to PATH.tmp, which is fsynced and renamed over PATH by
// finish(). A writer destroyed before finish() removes PATH.tmp, so PATH is complete or absent.
class SafetensorsWriter {
 public:
  // Writes the header at once. Names must be unique and not "__metadata__". Throws InputError
  // naming the file when it cannot be created.
  SafetensorsWriter(std::string path, std::vector<SafetensorsInfo> tensors,
                    const std::map<std::string, std::string>& metadata);
  ~SafetensorsWriter();
  // The bytes of the next tensor in the constructor's order; `bytes` must equal its nbytes().
  void write_next(const void* data, size_t bytes);
  // All tensors must have been written.
  void finish();
  const std::vector<SafetensorsInfo>& tensors() const { return tensors_; }
  int64_t header_bytes() const { return header_bytes_; }  // N, padding included

  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

 private:
  void check_io(bool ok, const char* what);
  std::string path_, tmp_;
  std::vector<SafetensorsInfo> tensors_;
  int64_t header_bytes_ = 0;
  size_t next_ = 0;
  std::FILE* file_ = nullptr;
};

// A whole file in memory: for tests and tools, not for multi-GB models.
struct SafetensorsFile {
  std::string path;
  std::map<std::string, std::string> metadata;
  std::vector<SafetensorsInfo> tensors;  // in data order
  int64_t header_bytes = 0;              // N
  std::vector<char> data;                // the byte buffer after the header
  const SafetensorsInfo* find(const std::string& name) const;
  const char* bytes(const SafetensorsInfo& t) const { return data.data() + t.begin; }
  // The tensor converted to float (from F32, BF16 or F16); fails on another dtype.
  std::vector<float> as_float(const std::string& name) const;
};

// Reads and validates PATH: header length within the file, a JSON object, known dtypes, shapes of
// non-negative dims, data_offsets that match dtype x shape and tile the buffer exactly (no gap, no
// overlap, nothing past the end). Anything else throws InputError naming the file and the problem.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace checkpoint
