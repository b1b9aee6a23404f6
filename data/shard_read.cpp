// data/shard_read.cpp
// Reading token shards (CONTRACTS §4): read_shard_info() validates a file, read_tokens() reads and
// checks a range of ids, expand_glob() turns a data pattern into a sorted file list.
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
  if (H5Tget_class(type.get()) != cls || H5Sget_simple_extent_npoints(space.get()) != 1) {
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
    // Variable-length (what kiln and h5py write): HDF5 allocates, we free with its allocator.
    char* s = nullptr;
    ok = H5Tset_size(mtype.get(), H5T_VARIABLE) >= 0 && H5Aread(attr.get(), mtype.get(), &s) >= 0;
    if (ok && s != nullptr) out = s;
    if (s != nullptr) H5free_memory(s);
  } else if (ok) {
    // Fixed-length: read the stored size plus room for a terminator, then cut at the first NUL.
    const size_t size = H5Tget_size(ftype.get());
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
                 const std::string& path, int64_t* length) {
  const std::string dtype = "uint" + std::to_string(bytes * 8);
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    bad(path, std::string("dataset /") + name + " is missing (expected 1-D " + dtype + ")");
  }
  io::H5Id ds(H5Dopen2(file, name, H5P_DEFAULT));
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

std::vector<int32_t> read_tokens(const ShardInfo& info, int64_t begin, int64_t count) {
  const std::string& path = info.path;
  if (begin < 0 || count < 0 || begin + count > info.num_tokens) {
    bad(path, "tokens [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                  ") requested but the shard holds " + std::to_string(info.num_tokens));
  }
  std::vector<int32_t> out(size_t(count), 0);
  if (count == 0) return out;

  io::QuietHdf5 quiet;
  io::H5Id file = open_file(path);
  int64_t n = 0;
  const bool narrow = info.vocab_size <= 65536;
  io::H5Id ds = open_1d(file.get(), "tokens", narrow ? 2 : 4, "", path, &n);
  // Shards are immutable; a length change since read_shard_info means the file was replaced.
  if (n != info.num_tokens) {
    bad(path, "/tokens now holds " + std::to_string(n) + " tokens, " + std::to_string(info.num_tokens) +
                  " when first opened; shards must not change while kiln reads them");
  }
  const hsize_t start = hsize_t(begin), len = hsize_t(count);
  io::H5Id fspace(H5Dget_space(ds.get()));
  io::H5Id mspace(H5Screate_simple(1, &len, nullptr));
  // HDF5 widens uint16 to uint32 while reading; the uint32 bit patterns land in int32 slots and
  // are reinterpreted below, so no second buffer is needed.
  if (!fspace.ok() || !mspace.ok() ||
      H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &start, nullptr, &len, nullptr) < 0 ||
      H5Dread(ds.get(), H5T_NATIVE_UINT32, mspace.get(), fspace.get(), H5P_DEFAULT, out.data()) < 0) {
    bad(path, with_hdf5_reason("reading /tokens [" + std::to_string(begin) + ", " +
                               std::to_string(begin + count) + ") failed") +
                  "; the file is truncated or corrupt");
  }
  const uint32_t vocab = uint32_t(info.vocab_size);
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t id = static_cast<uint32_t>(out[size_t(i)]);
    if (id >= vocab) {
      bad(path, "token id " + std::to_string(id) + " at index " + std::to_string(begin + i) +
                    " is >= vocab_size " + std::to_string(vocab));
    }
  }
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
