// checkpoint/format.cpp
// The small vocabulary of the on-disk format: folder and file names, dataset names, dtype and CRC
// spellings, which (shape, split, tp) combinations are valid, and the contiguous-run arithmetic
// that lets load() copy whole runs instead of mapping elements one by one; and HostBuffer, the
// reusable host memory behind the saver's staging copy and load's slice reads.
//
// Called by the other checkpoint/*.cpp files. Pure functions except read_text_file and HostBuffer;
// no HDF5, no MPI.
#include <cinttypes>
#include <cstdlib>
#include <new>
#include <cstdio>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "checkpoint/internal.h"

namespace checkpoint::detail {

std::string step_name(int64_t step) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "step_%08" PRId64, step);
  return buf;
}

namespace {
// "<prefix><digits><suffix>" with at least one digit and nothing else; the number in *n.
bool parse_numbered(const std::string& s, const char* prefix, const char* suffix, int64_t* n) {
  const std::string pre(prefix), suf(suffix);
  if (s.size() <= pre.size() + suf.size() || s.compare(0, pre.size(), pre) != 0 ||
      s.compare(s.size() - suf.size(), suf.size(), suf) != 0)
    return false;
  const std::string digits = s.substr(pre.size(), s.size() - pre.size() - suf.size());
  if (digits.size() > 18) return false;  // fits int64 without overflow checks
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (n != nullptr) *n = v;
  return true;
}
}  // namespace

bool parse_step_name(const std::string& name, int64_t* step) { return parse_numbered(name, "step_", "", step); }

std::string rank_file(int rank) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "rank_%05d.h5", rank);
  return buf;
}

std::string rank_list_file(int rank) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "rank_%05d.yaml", rank);
  return buf;
}

bool is_rank_file(const std::string& name) { return parse_numbered(name, "rank_", ".h5", nullptr); }

std::string dataset_name(const std::string& tensor, int tp_rank, int64_t local_begin) {
  std::string out;
  out.reserve(tensor.size() + 24);
  for (char c : tensor) {
    if (c == '%') out += "%25";
    else if (c == '/') out += "%2F";
    else out += c;
  }
  // A '.'-separated suffix: tensor names may contain dots, but the suffix is always the last two
  // fields, so the name stays unambiguous (and never "." or "..", which HDF5 would reject).
  out += ".tp" + std::to_string(tp_rank) + "." + std::to_string(local_begin);
  return out;
}

bool parse_dtype(const std::string& s, kernels::DType* out) {
  using kernels::DType;
  for (DType d : {DType::F32, DType::F64, DType::BF16, DType::F16, DType::I32, DType::U16, DType::U32})
    if (s == kernels::dtype_name(d)) {
      *out = d;
      return true;
    }
  return false;
}

std::string crc_hex(uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return buf;
}

bool parse_crc_hex(const std::string& s, uint32_t* out) {
  if (s.size() != 8) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = (v << 4) | uint32_t(d);
  }
  *out = v;
  return true;
}

std::string check_layout(const kernels::Shape& shape, parallel::Split split, int tp) {
  if (shape.ndim < 1 || shape.ndim > kernels::kMaxDims) return "a tensor needs 1 to 4 dimensions";
  for (int i = 0; i < shape.ndim; ++i)
    if (shape[i] <= 0) return "dimensions must be positive";
  if (tp < 1) return "tp must be at least 1";
  switch (split) {
    case parallel::Split::kReplicated: return "";
    case parallel::Split::kRows:
      return shape[0] % tp == 0 ? "" : "rows: dimension 0 is not divisible by tp";
    case parallel::Split::kQkvRows:
      return shape[0] % (3 * int64_t(tp)) == 0 ? "" : "qkv_rows: dimension 0 is not divisible by 3 * tp";
    case parallel::Split::kCols:
      // tp_split.h's column arithmetic is written for matrices (row-parallel weights).
      if (shape.ndim != 2) return "cols: only 2-D tensors can be split by columns";
      return shape[1] % tp == 0 ? "" : "cols: dimension 1 is not divisible by tp";
  }
  return "unknown split";
}

int64_t contiguous_run(const kernels::Shape& shape, parallel::Split split, int tp, int64_t e) {
  const kernels::Shape l = parallel::local_shape(shape, split, tp);
  const int64_t n = l.numel();
  if (tp == 1 || split == parallel::Split::kReplicated || split == parallel::Split::kRows) return n - e;
  const int64_t row_len = l.ndim > 1 ? n / l[0] : 1;
  int64_t block = row_len;                                           // kCols: one local row
  if (split == parallel::Split::kQkvRows) block = (l[0] / 3) * row_len;  // this rank's rows of q, k or v
  return block - e % block;
}

HostBuffer::~HostBuffer() { std::free(p_); }

std::byte* HostBuffer::reserve(size_t bytes) {
  if (bytes <= cap_ && p_ != nullptr) return p_;
  constexpr size_t kPage = size_t(4) << 10;
  const size_t size = (std::max<size_t>(bytes, 1) + kPage - 1) / kPage * kPage;
  std::free(p_);  // before the new allocation: peak memory of one buffer, not two
  p_ = nullptr;
  cap_ = 0;
  void* p = std::aligned_alloc(kPage, size);  // page-aligned: memcpy and HDF5 I/O at full speed
  if (p == nullptr) throw std::bad_alloc();
  p_ = static_cast<std::byte*>(p);
  cap_ = size;
  return p_;
}

bool read_text_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return false;
  *out = ss.str();
  return true;
}

}  // namespace checkpoint::detail
