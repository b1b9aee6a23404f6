// data/shard_read.cpp
// Reading token shards (CONTRACTS §4): read_shard_info() validates a file, ShardReader keeps one
// open and reads ranges of ids (checking each), read_tokens() is the one-shot form of that, and
// expand_glob() turns a data pattern into a sorted file list.
//
// Called by the loader, the evaluator, `kiln inspect` and tests. Every problem with a file (missing,
// not HDF5, truncated, wrong attribute, wrong dtype or rank, id out of range) becomes a
// kernels::InputError that names the file, so the CLI exits 2 with a message the user can act on;
// nothing here crashes or prints. Files are opened read-only and never written.
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "data/io.h"
#include "data/shard.h"
#include "kernels/check.h"

namespace data {
namespace {

// Longest string attribute read (kiln's are a word and a hash).
constexpr size_t kMaxStringAttrBytes = 4096;

[[noreturn]] void bad(const std::string& path, const std::string& problem) {
  throw kernels::InputError("shard " + path + ": " + problem);
}

std::string with_hdf5_reason(const std::string& text) {
  const std::string why = io::last_hdf5_error();
  return why.empty() ? text : text + " (HDF5: " + why + ")";
}

// "uint16", "float32", ...: the words an error message uses for a dataset's type.
std::string describe_type(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT: return "float" + std::to_string(bits);
    case H5T_STRING: return "string";
    default: return "a non-numeric type";
  }
}

io::H5Id open_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) bad(path, "no such file");
  if (S_ISDIR(st.st_mode)) bad(path, "is a folder, expected an HDF5 token shard file");
  // Checked before opening: open() on a FIFO blocks until a writer appears (forever, for a glob
  // that matched a named pipe), and a device could stream endlessly.
  if (!S_ISREG(st.st_mode)) {
    bad(path, std::string("is ") + (S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)" : "a device or socket") +
                  ", expected a regular HDF5 token shard file");
  }
  io::H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.ok()) {
    bad(path, with_hdf5_reason("cannot be opened as HDF5") +
                  "; the file is not an HDF5 token shard, or it is truncated or corrupt");
  }
  return file;
}

// Opens a root attribute that must hold exactly one value of `cls` (a larger dataspace would make
// H5Aread write past our one-element buffer).
io::H5Id open_scalar_attr(hid_t file, const char* name, H5T_class_t cls, const char* expected,
                          const std::string& path) {
  if (H5Aexists(file, name) <= 0) {
    bad(path, std::string("attribute ") + name + " is missing (expected " + expected + ")");
  }
  io::H5Id attr(H5Aopen(file, name, H5P_DEFAULT));
  io::H5Id type(attr.ok() ? H5Aget_type(attr.get()) : H5I_INVALID_HID);
  io::H5Id space(attr.ok() ? H5Aget_space(attr.get()) : H5I_INVALID_HID);
  if (!type.ok() || !space.ok()) bad(path, with_hdf5_reason(std::string("cannot read attribute ") + name));
  // Class, rank and element count before any read: a larger dataspace would make H5Aread write
  // past our one-element buffer, a wide integer would not fit int64.
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  if (H5Tget_class(type.get()) != cls || (space_class != H5S_SCALAR && space_class != H5S_SIMPLE) ||
      H5Sget_simple_extent_ndims(space.get()) > 1 || H5Sget_simple_extent_npoints(space.get()) != 1 ||
      (cls == H5T_INTEGER && H5Tget_size(type.get()) > 8)) {
    bad(path, std::string("attribute ") + name + " is " + describe_type(type.get()) +
                  " or not a single value (expected " + expected + ")");
  }
  return attr;
}

std::string read_string_attr(hid_t file, const char* name, const char* expected, const std::string& path) {
  io::H5Id attr = open_scalar_attr(file, name, H5T_STRING, expected, path);
  io::H5Id ftype(H5Aget_type(attr.get()));
  io::H5Id mtype(H5Tcopy(H5T_C_S1));
  std::string out;
  bool ok = mtype.ok() && H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get())) >= 0;
  if (ok && H5Tis_variable_str(ftype.get()) > 0) {
    // Variable-length strings (shards of kiln before the newest-format writer, or h5py) are refused
    // unread: libhdf5 decodes them from a global heap that a damaged file can make it loop on for
    // ever (found by fuzz_shard; tests/fuzz/regressions/shard), and no check of ours in front of it
    // covers every such heap. kiln writes fixed-length strings.
    bad(path, std::string("attribute ") + name +
                  " is a variable-length string (a shard from an older kiln or another tool); expected a "
                  "fixed-length string: re-run kiln prepare");
  } else if (ok) {
    // Fixed-length (what kiln writes since shards carry checksummed metadata): read the stored
    // size plus room for a terminator, then cut at the first NUL. Sizes are bounded first.
    const size_t size = H5Tget_size(ftype.get());
    if (size == 0 || size > kMaxStringAttrBytes) {
      bad(path, std::string("attribute ") + name + " is a string of " + std::to_string(size) + " bytes (expected 1.." +
                    std::to_string(kMaxStringAttrBytes) + ")");
    }
    std::string buf(size + 1, '\0');
    ok = H5Tset_size(mtype.get(), size + 1) >= 0 && H5Aread(attr.get(), mtype.get(), buf.data()) >= 0;
    out = buf.c_str();
  }
  if (!ok) bad(path, with_hdf5_reason(std::string("cannot read attribute ") + name));
  return out;
}

int64_t read_int_attr(hid_t file, const char* name, const char* expected, const std::string& path) {
  io::H5Id attr = open_scalar_attr(file, name, H5T_INTEGER, expected, path);
  int64_t v = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0) {
    bad(path, with_hdf5_reason(std::string("cannot read attribute ") + name));
  }
  return v;
}

// Opens a 1-D unsigned integer dataset of `bytes`-wide elements and returns it with its length.
io::H5Id open_1d(hid_t file, const char* name, size_t bytes, const std::string& why_width,
                 const std::string& path, int64_t* length, hid_t dapl = H5P_DEFAULT) {
  const std::string dtype = "uint" + std::to_string(bytes * 8);
  const htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
  if (exists < 0) {  // the lookup itself failed: the group's index is damaged, not just empty
    bad(path, with_hdf5_reason(std::string("cannot look up /") + name) + "; the file is truncated or corrupt");
  }
  if (exists == 0) bad(path, std::string("dataset /") + name + " is missing (expected 1-D " + dtype + ")");
  io::H5Id ds(H5Dopen2(file, name, dapl));
  if (!ds.ok()) bad(path, with_hdf5_reason(std::string("/") + name + " is not a readable dataset"));
  io::H5Id type(H5Dget_type(ds.get()));
  io::H5Id space(H5Dget_space(ds.get()));
  if (!type.ok() || !space.ok()) bad(path, with_hdf5_reason(std::string("cannot inspect /") + name));
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_sign(type.get()) != H5T_SGN_NONE ||
      H5Tget_size(type.get()) != bytes) {
    bad(path, std::string("dataset /") + name + " has dtype " + describe_type(type.get()) +
                  ", expected " + dtype + why_width);
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank != 1) {
    bad(path, std::string("dataset /") + name + " has rank " + std::to_string(rank) + ", expected 1-D");
  }
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.get(), &n, nullptr);
  *length = int64_t(n);
  return ds;
}

}  // namespace

ShardInfo read_shard_info(const std::string& path) {
  io::QuietHdf5 quiet;
  io::H5Id file = open_file(path);
  ShardInfo info;
  info.path = path;

  const std::string format = read_string_attr(file.get(), "kiln_format", "the string \"tokens\"", path);
  if (format != "tokens") bad(path, "kiln_format is \"" + format + "\", expected \"tokens\"");
  const int64_t version = read_int_attr(file.get(), "format_version", "integer 1", path);
  if (version != 1) {
    bad(path, "format_version is " + std::to_string(version) + ", this kiln reads format_version 1");
  }
  const int64_t vocab = read_int_attr(file.get(), "vocab_size", "a positive integer", path);
  if (vocab <= 0 || vocab > std::numeric_limits<int32_t>::max()) {
    bad(path, "vocab_size " + std::to_string(vocab) + " is out of range, expected 1..2^31-1");
  }
  info.vocab_size = int(vocab);
  const int64_t eot = read_int_attr(file.get(), "eot_token", "an integer, -1 if none", path);
  if (eot < -1 || eot >= vocab) {
    bad(path, "eot_token " + std::to_string(eot) + " is outside [-1, vocab_size " + std::to_string(vocab) + ")");
  }
  info.eot_token = int(eot);
  info.tokenizer = read_string_attr(file.get(), "tokenizer", "a string naming the tokenizer", path);

  // The width is fixed by vocab_size (CONTRACTS §4), so a uint32 file with a small vocab is as wrong
  // as a float one: both mean the writer did not follow the format.
  const bool narrow = vocab <= 65536;
  const std::string why = " (vocab_size " + std::to_string(vocab) + (narrow ? " <= 65536)" : " > 65536)");
  open_1d(file.get(), "tokens", narrow ? 2 : 4, why, path, &info.num_tokens);
  open_1d(file.get(), "doc_offsets", 8, "", path, &info.num_docs);
  if (info.num_docs > info.num_tokens) {
    bad(path, std::to_string(info.num_docs) + " documents but only " + std::to_string(info.num_tokens) +
                  " tokens; /doc_offsets must list document starts inside /tokens");
  }
  return info;
}

// ---- ShardReader -------------------------------------------------------------------------------
// Measured on a 50M-token uint16 shard in the page cache, 1025-id windows in random order (one
// core): HDF5's default 1 MiB chunk cache gives ~18M ids/s, because every miss copies a whole
// 64Ki-id chunk to use 2 KiB of it; with the chunk cache off HDF5 reads just the selected bytes
// and gives ~160M ids/s. Reading in the file's own width and widening here beats asking HDF5 to
// convert uint16 -> uint32 by ~15x. Both choices are what the code below does.

struct ShardReader::Impl {
  ShardInfo info;
  io::H5Id file;                     // declared first: closed after the datasets that live in it
  io::H5Id tokens, offsets;
  io::H5Id tokens_space, offsets_space;  // file dataspaces, reused for every hyperslab
  io::H5Id mem_space;                    // 1-D memory space of mem_len elements, reused
  hsize_t mem_len = 0;
  bool narrow = true;                    // uint16 file (vocab_size <= 65536), else uint32
  int64_t chunk = 0;
  std::vector<uint16_t> scratch;         // narrow ids before widening; grows to the largest read

  hid_t memory_space(hsize_t n) {
    if (n != mem_len || !mem_space.ok()) {
      mem_space = io::H5Id(H5Screate_simple(1, &n, nullptr));
      mem_len = n;
    }
    return mem_space.get();
  }

  // Selects [begin, begin+count) of `space` and reads it as `mem_type`; false on any HDF5 error.
  bool read_range(hid_t ds, hid_t space, hid_t mem_type, int64_t begin, int64_t count, void* dst) {
    const hsize_t start = hsize_t(begin), len = hsize_t(count);
    const hid_t ms = memory_space(len);
    return ms >= 0 && H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nullptr, &len, nullptr) >= 0 &&
           H5Dread(ds, mem_type, ms, space, H5P_DEFAULT, dst) >= 0;
  }

  void check_range(const char* what, int64_t begin, int64_t count, int64_t size) const {
    if (begin < 0 || count < 0 || begin + count > size) {
      bad(info.path, std::string(what) + " [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                         ") requested but the shard holds " + std::to_string(size));
    }
  }
};

ShardReader::ShardReader(const ShardInfo& info) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.info = info;
  const std::string& path = info.path;
  io::QuietHdf5 quiet;
  m.file = open_file(path);
  m.narrow = info.vocab_size <= 65536;
  // Chunk cache off (see above). The cache is fixed by the first open of a dataset in the process
  // (later opens share it), so it is chosen at this open, not adjusted afterwards.
  io::H5Id uncached(H5Pcreate(H5P_DATASET_ACCESS));
  if (!uncached.ok() || H5Pset_chunk_cache(uncached.get(), 0, 0, 1.0) < 0) {
    bad(path, with_hdf5_reason("cannot set up reading /tokens"));
  }
  int64_t n = 0;
  m.tokens = open_1d(m.file.get(), "tokens", m.narrow ? 2 : 4, "", path, &n, uncached.get());
  // Shards are immutable; a length change since read_shard_info means the file was replaced.
  if (n != info.num_tokens) {
    bad(path, "/tokens now holds " + std::to_string(n) + " tokens, " + std::to_string(info.num_tokens) +
                  " when first opened; shards must not change while kiln reads them");
  }
  io::H5Id dcpl(H5Dget_create_plist(m.tokens.get()));
  m.chunk = info.num_tokens;
  if (dcpl.ok() && H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    hsize_t dim = 0;
    if (H5Pget_chunk(dcpl.get(), 1, &dim) == 1) m.chunk = int64_t(dim);
    // A compressed chunk must be inflated whole anyway, so filtered datasets (not written by kiln,
    // but valid HDF5) are reopened with HDF5's default cache.
    if (H5Pget_nfilters(dcpl.get()) > 0) {
      m.tokens.reset();
      m.tokens = open_1d(m.file.get(), "tokens", m.narrow ? 2 : 4, "", path, &n);
    }
  }
  m.tokens_space = io::H5Id(H5Dget_space(m.tokens.get()));
  if (!m.tokens_space.ok()) bad(path, with_hdf5_reason("cannot inspect /tokens"));
}

ShardReader::~ShardReader() = default;
ShardReader::ShardReader(ShardReader&&) noexcept = default;
ShardReader& ShardReader::operator=(ShardReader&&) noexcept = default;

const ShardInfo& ShardReader::info() const { return impl_->info; }
int64_t ShardReader::chunk_tokens() const { return impl_->chunk; }

void ShardReader::read_tokens(int64_t begin, int64_t count, int32_t* dst) {
  Impl& m = *impl_;
  m.check_range("tokens", begin, count, m.info.num_tokens);
  if (count == 0) return;
  io::QuietHdf5 quiet;
  bool ok;
  if (m.narrow) {
    if (m.scratch.size() < size_t(count)) m.scratch.resize(size_t(count));
    ok = m.read_range(m.tokens.get(), m.tokens_space.get(), H5T_NATIVE_UINT16, begin, count, m.scratch.data());
  } else {
    // uint32 bit patterns land in int32 slots; ids >= 2^31 show up as >= vocab (<= 2^31-1) below.
    ok = m.read_range(m.tokens.get(), m.tokens_space.get(), H5T_NATIVE_UINT32, begin, count, dst);
  }
  if (!ok) {
    bad(m.info.path, with_hdf5_reason("reading /tokens [" + std::to_string(begin) + ", " +
                                      std::to_string(begin + count) + ") failed") +
                         "; the file is truncated or corrupt");
  }
  // Widen and validate in one pass; the max-reduction vectorises, the search for the culprit only
  // runs when something is wrong.
  const uint32_t vocab = uint32_t(m.info.vocab_size);
  uint32_t top = 0;
  if (m.narrow) {
    const uint16_t* src = m.scratch.data();
    for (int64_t i = 0; i < count; ++i) {
      dst[i] = int32_t(src[i]);
      top = std::max(top, uint32_t(src[i]));
    }
  } else {
    for (int64_t i = 0; i < count; ++i) top = std::max(top, uint32_t(dst[i]));
  }
  if (top < vocab) return;
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t id = uint32_t(dst[i]);
    if (id >= vocab) {
      bad(m.info.path, "token id " + std::to_string(id) + " at index " + std::to_string(begin + i) +
                           " is >= vocab_size " + std::to_string(vocab));
    }
  }
}

void ShardReader::read_doc_offsets(int64_t begin, int64_t count, uint64_t* dst) {
  Impl& m = *impl_;
  m.check_range("doc_offsets", begin, count, m.info.num_docs);
  if (count == 0) return;
  io::QuietHdf5 quiet;
  if (!m.offsets.ok()) {
    // Opened on first use: the loader never needs it, and every open counts when files reopen.
    int64_t docs = 0;
    m.offsets = open_1d(m.file.get(), "doc_offsets", 8, "", m.info.path, &docs);
    m.offsets_space = io::H5Id(H5Dget_space(m.offsets.get()));
    if (docs != m.info.num_docs || !m.offsets_space.ok()) {
      bad(m.info.path, "/doc_offsets now holds " + std::to_string(docs) + " entries, " +
                           std::to_string(m.info.num_docs) + " when first opened; shards must not change "
                           "while kiln reads them");
    }
  }
  if (!m.read_range(m.offsets.get(), m.offsets_space.get(), H5T_NATIVE_UINT64, begin, count, dst)) {
    bad(m.info.path, with_hdf5_reason("reading /doc_offsets [" + std::to_string(begin) + ", " +
                                      std::to_string(begin + count) + ") failed") +
                         "; the file is truncated or corrupt");
  }
}

std::vector<int32_t> read_tokens(const ShardInfo& info, int64_t begin, int64_t count) {
  if (begin < 0 || count < 0 || begin + count > info.num_tokens) {
    bad(info.path, "tokens [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                       ") requested but the shard holds " + std::to_string(info.num_tokens));
  }
  std::vector<int32_t> out(size_t(count), 0);
  if (count > 0) ShardReader(info).read_tokens(begin, count, out.data());
  return out;
}

std::vector<std::string> expand_glob(const std::string& pattern) {
  glob_t g{};
  // GLOB_MARK appends '/' to folders so they can be dropped: a pattern names shard files. Without
  // GLOB_ERR, unreadable folders are skipped like non-matching ones.
  const int rc = ::glob(pattern.c_str(), GLOB_MARK, nullptr, &g);
  std::vector<std::string> files;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string p = g.gl_pathv[i];
      if (!p.empty() && p.back() != '/') files.push_back(std::move(p));
    }
  }
  ::globfree(&g);
  if (rc == GLOB_NOSPACE) throw std::bad_alloc();
  if (files.empty()) {
    throw kernels::InputError("data pattern " + pattern + " matches no files (expected shard files such as "
                              "data/x/train_*.h5 written by `kiln prepare`)");
  }
  // Byte order, not glob's locale collation: the file order (and so the data order) must not
  // depend on LC_COLLATE.
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace data
