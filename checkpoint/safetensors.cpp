// checkpoint/safetensors.cpp
// Writer and reader of the safetensors format (see safetensors.h for the layout).
#include "checkpoint/safetensors.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "data/io.h"
#include "kernels/check.h"
#include "kernels/json_untrusted.h"

namespace checkpoint {

namespace {

namespace fs = std::filesystem;
using kernels::DType;

constexpr int64_t kMaxHeaderBytes = int64_t{100} << 20;  // the reference implementation's limit

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypes[] = {{DType::F32, "F32"}, {DType::F64, "F64"}, {DType::BF16, "BF16"},
                                 {DType::F16, "F16"}, {DType::I32, "I32"}, {DType::U16, "U16"},
                                 {DType::U32, "U32"}};

[[noreturn]] void bad_file(const std::string& path, const std::string& problem) {
  throw kernels::InputError("safetensors file " + path + ": " + problem);
}

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void put_u64_le(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = char((v >> (8 * i)) & 0xff);
}

uint64_t get_u64_le(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

}  // namespace

const char* safetensors_dtype_name(DType d) {
  for (const DTypeName& t : kDTypes)
    if (t.dtype == d) return t.name;
  kernels::fail("safetensors_dtype_name", std::string("no safetensors dtype for ") + kernels::dtype_name(d), __FILE__,
                __LINE__);
}

// ---------------------------------------------------------------------------------------------
// Writer

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<SafetensorsInfo> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), tensors_(std::move(tensors)) {
  // Keys in the order written: __metadata__ first, then the tensors in data order, so the header
  // reads like the file.
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  int64_t offset = 0;
  for (SafetensorsInfo& t : tensors_) {
    KILN_CHECK(t.name != "__metadata__" && names.insert(t.name).second,
               "safetensors: tensor name '" + t.name + "' is reserved or repeated");
    t.begin = offset;
    t.end = offset + numel_of(t.shape) * int64_t(kernels::dtype_size(t.dtype));
    offset = t.end;
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
  }
  std::string json = header.dump();
  // Spaces up to a multiple of 8, so the buffer after the 8-byte length starts 8-byte aligned and
  // a reader can map F32/F64 tensors in place (what Hugging Face's writer does too).
  json.append((8 - json.size() % 8) % 8, ' ');
  header_bytes_ = int64_t(json.size());

  file_ = std::fopen(tmp_.c_str(), "wb");
  if (file_ == nullptr) throw kernels::InputError("cannot create " + tmp_ + " (expected a writable folder)");
  char len[8];
  put_u64_le(len, uint64_t(header_bytes_));
  check_io(std::fwrite(len, 1, 8, file_) == 8, "write the header length of");
  check_io(std::fwrite(json.data(), 1, json.size(), file_) == json.size(), "write the header of");
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_ == nullptr) return;  // finished (or never opened)
  std::fclose(file_);
  std::error_code ec;
  fs::remove(tmp_, ec);  // never leave a half-written file behind
}

void SafetensorsWriter::check_io(bool ok, const char* what) {
  if (!ok) throw kernels::InputError(std::string("cannot ") + what + " " + tmp_ + ": " + std::strerror(errno));
}

void SafetensorsWriter::write_next(const void* data, size_t bytes) {
  KILN_CHECK(next_ < tensors_.size(), "safetensors: more tensors written than declared for " + path_);
  const SafetensorsInfo& t = tensors_[next_];
  KILN_CHECK(int64_t(bytes) == t.nbytes(), "safetensors: tensor " + t.name + " needs " + std::to_string(t.nbytes()) +
                                               " bytes, got " + std::to_string(bytes));
  check_io(bytes == 0 || std::fwrite(data, 1, bytes, file_) == bytes, "write tensor data to");
  ++next_;
}

void SafetensorsWriter::finish() {
  KILN_CHECK(next_ == tensors_.size(), "safetensors: " + std::to_string(tensors_.size() - next_) +
                                           " declared tensors were never written to " + path_);
  check_io(std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0, "flush");
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  check_io(closed, "close");
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) throw kernels::InputError("cannot rename " + tmp_ + " to " + path_ + ": " + ec.message());
  data::io::fsync_path(data::io::parent_dir(path_), /*is_dir=*/true);
}

// ---------------------------------------------------------------------------------------------
// Reader

const SafetensorsInfo* SafetensorsFile::find(const std::string& name) const {
  for (const SafetensorsInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<float> SafetensorsFile::as_float(const std::string& name) const {
  const SafetensorsInfo* t = find(name);
  if (t == nullptr) bad_file(path, "no tensor named '" + name + "'");
  const int64_t n = numel_of(t->shape);
  std::vector<float> out(size_t(n), 0.f);
  const char* src = bytes(*t);
  for (int64_t i = 0; i < n; ++i) {
    switch (t->dtype) {
      case DType::F32: std::memcpy(&out[size_t(i)], src + 4 * i, 4); break;
      case DType::BF16: case DType::F16: {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        out[size_t(i)] = t->dtype == DType::BF16 ? kernels::bits_float(uint32_t(bits) << 16)
                                                 : kernels::fp16::to_float(bits);
        break;
      }
      default: bad_file(path, "tensor '" + name + "' is " + safetensors_dtype_name(t->dtype) + ", not a float type");
    }
  }
  return out;
}

namespace {
std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  SafetensorsFile f;
  f.path = path;
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    bad_file(path, "is not a regular file (a folder, FIFO or device)");
  std::ifstream in(path, std::ios::binary);
  if (!in) bad_file(path, "cannot be opened (missing or unreadable)");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8) bad_file(path, "shorter than the 8-byte header length (" + std::to_string(bytes.size()) + " bytes)");
  const uint64_t n = get_u64_le(bytes.data());
  if (n > uint64_t(kMaxHeaderBytes) || n > bytes.size() - 8) {
    bad_file(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                       std::to_string(bytes.size()) + " bytes): truncated or not a safetensors file");
  }
  f.header_bytes = int64_t(n);
  std::string why;
  const nlohmann::json header = kernels::parse_untrusted_json(std::string_view(bytes.data() + 8, size_t(n)), &why);
  if (header.is_discarded()) bad_file(path, "header: " + why);
  if (!header.is_object()) bad_file(path, "header is not a JSON object");
  f.data.assign(bytes.begin() + 8 + int64_t(n), bytes.end());
  const int64_t data_bytes = int64_t(f.data.size());

  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) bad_file(path, "__metadata__ is not an object of strings");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) bad_file(path, "__metadata__ value of '" + k + "' is not a string");
        f.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + key + "'";
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
      bad_file(path, where + " lacks dtype, shape or data_offsets");
    SafetensorsInfo t;
    t.name = key;
    const nlohmann::json& dt = value["dtype"];
    const auto known = std::find_if(std::begin(kDTypes), std::end(kDTypes),
                                    [&](const DTypeName& d) { return dt.is_string() && dt.get<std::string>() == d.name; });
    if (known == std::end(kDTypes)) bad_file(path, where + " has unsupported dtype " + kernels::describe_json(dt));
    t.dtype = known->dtype;
    const nlohmann::json& shape = value["shape"];
    if (!shape.is_array()) bad_file(path, where + " shape is not an array");
    int64_t numel = 1;
    for (const nlohmann::json& d : shape) {
      // A dim past the file size can never be backed by data; bounding it also keeps numel finite.
      if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(data_bytes) + 1)
        bad_file(path, where + " shape has " + kernels::describe_json(d) + " as a dim: a negative, non-integer or impossible dim");
      const int64_t dim = d.get<int64_t>();
      t.shape.push_back(dim);
      // Saturate at data_bytes + 1 (already too big to be backed) instead of overflowing.
      numel = numel > 0 && dim > (data_bytes + 1) / numel ? data_bytes + 1 : numel * dim;
    }
    const nlohmann::json& off = value["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad_file(path, where + " data_offsets is " + kernels::describe_json(off) + ", expected [begin, end]");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > uint64_t(data_bytes)) {
      bad_file(path, where + " data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                         "] run outside the " + std::to_string(data_bytes) + "-byte data buffer (truncated file?)");
    }
    t.begin = int64_t(b);
    t.end = int64_t(e);
    const int64_t want = numel * int64_t(kernels::dtype_size(t.dtype));
    if (t.nbytes() != want) {
      bad_file(path, where + " holds " + std::to_string(t.nbytes()) + " bytes but " + dt.get<std::string>() + " " +
                         shape_text(t.shape) + " needs " + std::to_string(want));
    }
    f.tensors.push_back(std::move(t));
  }
  // The tensors must tile the buffer: sorted by begin, each starts where the previous ended.
  std::sort(f.tensors.begin(), f.tensors.end(),
            [](const SafetensorsInfo& a, const SafetensorsInfo& b) {
              return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
            });
  int64_t at = 0;
  for (const SafetensorsInfo& t : f.tensors) {
    if (t.begin != at) {
      bad_file(path, "tensor '" + t.name + "' starts at byte " + std::to_string(t.begin) + " of the data buffer, expected " +
                         std::to_string(at) + " (tensors must be back to back, without gaps or overlaps)");
    }
    at = t.end;
  }
  if (at != data_bytes) {
    bad_file(path, "the tensors cover " + std::to_string(at) + " of the " + std::to_string(data_bytes) +
                       " bytes after the header (trailing bytes)");
  }
  return f;
}

}  // namespace checkpoint
