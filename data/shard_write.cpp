// data/shard_write.cpp
// ShardWriter and write_shard(): one token shard in the HDF5 layout of CONTRACTS §4, made durable
// and atomic. ShardWriter streams: ids and offsets are appended in pieces to extendable datasets,
// so memory does not grow with the shard (kiln prepare's shards hold 100M tokens by default).
//
// Called by prepare()'s shard sinks (ShardWriter) and by tests that need shards (write_shard). The
// file appears under its final name only once complete: HDF5 writes NAME.tmp, the file is closed,
// fsynced, renamed, and the folder fsynced, so a crash leaves either the old state or the whole
// shard, never half of one. Does not validate
// what callers promised (ids < vocab_size, sorted offsets) beyond a check that stops on a bug; the
// reader (shard_read.cpp) is what defends against bad files.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/io.h"
#include "data/shard.h"
#include "kernels/check.h"

namespace data {
namespace {

// Elements per chunk of /tokens: 128 KiB of uint16, big enough for sequential reads to be cheap and
// small enough that a reader validating "each chunk on first read" does little extra work.
constexpr hsize_t kTokenChunk = 64 * 1024;
constexpr hsize_t kOffsetChunk = 16 * 1024;

struct WriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws WriteError quoting HDF5's own reason when an HDF5 call returned a negative value.
void h5_require(bool ok, const std::string& file, const char* what) {
  if (!ok) {
    const std::string why = io::last_hdf5_error();
    throw WriteError("writing shard " + file + ": " + what + " failed" +
                     (why.empty() ? "" : " (HDF5: " + why + ")"));
  }
}

// Scalar attribute holding a fixed-length, NUL-padded UTF-8 string. Fixed, not variable-length:
// a variable-length string lives in HDF5's global heap, which carries no checksum and which
// libhdf5 decodes without bounds checks (crafted heaps crash or hang it); readers may then refuse
// variable-length types in new files (shard_read.cpp keeps reading them from older shards).
void write_string_attr(hid_t file, const char* name, const std::string& value, const std::string& path) {
  io::H5Id type(H5Tcopy(H5T_C_S1));
  h5_require(type.ok() && H5Tset_size(type.get(), std::max<size_t>(1, value.size())) >= 0 &&
                 H5Tset_strpad(type.get(), H5T_STR_NULLPAD) >= 0 && H5Tset_cset(type.get(), H5T_CSET_UTF8) >= 0,
             path, "string type");
  io::H5Id space(H5Screate(H5S_SCALAR));
  io::H5Id attr(H5Acreate2(file, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  std::string padded = value;
  padded.resize(std::max<size_t>(1, value.size()), '\0');
  h5_require(attr.ok() && H5Awrite(attr.get(), type.get(), padded.data()) >= 0, path, name);
}

// Scalar little-endian int32 attribute (the contract's "int").
void write_int_attr(hid_t file, const char* name, int value, const std::string& path) {
  io::H5Id space(H5Screate(H5S_SCALAR));
  io::H5Id attr(H5Acreate2(file, name, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  h5_require(attr.ok() && H5Awrite(attr.get(), H5T_NATIVE_INT, &value) >= 0, path, name);
}


// A chunked 1-D dataset with unlimited max size, created empty and grown by append_1d(): an
// unlimited dimension lets the chunk be larger than the data (HDF5 rejects that for fixed sizes),
// so tiny and empty shards need no special case, and a shard never has to be in memory whole.
hid_t create_1d(hid_t file, const char* name, hid_t file_type, hsize_t chunk, const std::string& path) {
  const hsize_t zero = 0, maxdim = H5S_UNLIMITED;
  io::H5Id space(H5Screate_simple(1, &zero, &maxdim));
  io::H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  h5_require(space.ok() && dcpl.ok() && H5Pset_chunk(dcpl.get(), 1, &chunk) >= 0, path, name);
  const hid_t ds = H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT);
  h5_require(ds >= 0, path, name);
  return ds;
}

// Appends n elements at offset `at` (the current length) of a dataset made by create_1d().
void append_1d(hid_t ds, hid_t mem_type, const void* data, hsize_t at, hsize_t n, const char* name,
               const std::string& path) {
  if (n == 0) return;
  const hsize_t total = at + n;
  h5_require(H5Dset_extent(ds, &total) >= 0, path, name);
  io::H5Id file_space(H5Dget_space(ds));
  io::H5Id mem_space(H5Screate_simple(1, &n, nullptr));
  h5_require(file_space.ok() && mem_space.ok() &&
                 H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &at, nullptr, &n, nullptr) >= 0 &&
                 H5Dwrite(ds, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data) >= 0,
             path, name);
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

struct ShardWriter::Impl {
  std::string path, tmp, tokenizer;
  int vocab_size = 0, eot_token = -1;
  bool narrow = true;                // uint16 on disk
  io::H5Id file, tokens, offsets;    // declared after `file`: closed before it
  uint64_t n_tokens = 0, n_offsets = 0, last_offset = 0;
  std::vector<uint16_t> narrow_buf;  // one append's worth, reused
  bool done = false;                 // finished or abandoned
};

ShardWriter::ShardWriter(const std::string& path, int vocab_size, int eot_token, const std::string& tokenizer)
    : impl_(std::make_unique<Impl>()) {
  // Caller promises (shard.h); breaking them is a bug in kiln, not bad user input.
  KILN_CHECK(vocab_size > 0, "write_shard " + path + ": vocab_size must be positive");
  KILN_CHECK(eot_token >= -1 && eot_token < vocab_size, "write_shard " + path + ": eot_token out of range");
  Impl& m = *impl_;
  m.path = path;
  m.tmp = path + ".tmp";
  m.tokenizer = tokenizer;
  m.vocab_size = vocab_size;
  m.eot_token = eot_token;
  m.narrow = vocab_size <= 65536;  // uint16 halves the file for byte and GPT-2 vocabularies
  io::QuietHdf5 quiet;
  // The newest file format this HDF5 writes (1.10's with 1.10.x): superblock, object headers and
  // the chunk index of /tokens all carry checksums, so a flipped byte in HDF5's own metadata is an
  // error on open instead of a wild read. Shards written with the default (oldest) format by
  // earlier kiln versions or other tools still load: readers accept every format version.
  io::H5Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  h5_require(fapl.ok() && H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0, m.tmp,
             "file format");
  m.file = io::H5Id(H5Fcreate(m.tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!m.file.ok()) {
    // Usually a missing or read-only output folder: something the user can fix.
    const std::string why = io::last_hdf5_error();
    m.done = true;
    throw kernels::InputError("cannot create shard file " + m.tmp + (why.empty() ? "" : " (HDF5: " + why + ")") +
                              "; expected a writable output folder");
  }
  try {
    m.tokens = io::H5Id(create_1d(m.file.get(), "tokens", m.narrow ? H5T_STD_U16LE : H5T_STD_U32LE, kTokenChunk,
                                  m.tmp));
    m.offsets = io::H5Id(create_1d(m.file.get(), "doc_offsets", H5T_STD_U64LE, kOffsetChunk, m.tmp));
  } catch (...) {
    abandon();
    throw;
  }
}

ShardWriter::~ShardWriter() {
  if (impl_ && !impl_->done) abandon();
}

// Closes everything and deletes NAME.tmp: never leave a half-written shard behind.
void ShardWriter::abandon() {
  Impl& m = *impl_;
  io::QuietHdf5 quiet;
  m.offsets.reset();
  m.tokens.reset();
  m.file.reset();
  std::remove(m.tmp.c_str());
  m.done = true;
}

uint64_t ShardWriter::tokens() const { return impl_->n_tokens; }

void ShardWriter::append_tokens(const uint32_t* ids, size_t n) {
  Impl& m = *impl_;
  KILN_CHECK(!m.done, "write_shard " + m.path + ": append after finish");
  for (size_t i = 0; i < n; ++i) {
    KILN_CHECK(ids[i] < uint32_t(m.vocab_size),
               "write_shard " + m.path + ": id " + std::to_string(ids[i]) + " at index " +
                   std::to_string(m.n_tokens + i) + " >= vocab_size " + std::to_string(m.vocab_size));
  }
  io::QuietHdf5 quiet;
  try {
    if (m.narrow) {  // ids were checked to fit
      m.narrow_buf.assign(ids, ids + n);
      append_1d(m.tokens.get(), H5T_NATIVE_UINT16, m.narrow_buf.data(), m.n_tokens, n, "tokens", m.tmp);
    } else {
      append_1d(m.tokens.get(), H5T_NATIVE_UINT32, ids, m.n_tokens, n, "tokens", m.tmp);
    }
  } catch (...) {
    abandon();
    throw;
  }
  m.n_tokens += n;
}

void ShardWriter::append_doc_offsets(const uint64_t* offsets, size_t n) {
  Impl& m = *impl_;
  KILN_CHECK(!m.done, "write_shard " + m.path + ": append after finish");
  for (size_t i = 0; i < n; ++i) {
    const bool first = m.n_offsets == 0 && i == 0;
    const uint64_t prev = i == 0 ? m.last_offset : offsets[i - 1];
    KILN_CHECK(first || offsets[i] > prev,
               "write_shard " + m.path + ": doc_offsets must increase and point inside /tokens");
  }
  if (n == 0) return;
  io::QuietHdf5 quiet;
  try {
    append_1d(m.offsets.get(), H5T_NATIVE_UINT64, offsets, m.n_offsets, n, "doc_offsets", m.tmp);
  } catch (...) {
    abandon();
    throw;
  }
  m.n_offsets += n;
  m.last_offset = offsets[n - 1];
}

void ShardWriter::finish() {
  Impl& m = *impl_;
  KILN_CHECK(!m.done, "write_shard " + m.path + ": finish twice");
  KILN_CHECK(m.n_offsets == 0 || m.last_offset < m.n_tokens,
             "write_shard " + m.path + ": doc_offsets must increase and point inside /tokens");
  io::QuietHdf5 quiet;
  try {
    write_string_attr(m.file.get(), "kiln_format", "tokens", m.tmp);
    write_int_attr(m.file.get(), "format_version", 1, m.tmp);
    write_int_attr(m.file.get(), "vocab_size", m.vocab_size, m.tmp);
    write_int_attr(m.file.get(), "eot_token", m.eot_token, m.tmp);
    write_string_attr(m.file.get(), "tokenizer", m.tokenizer, m.tmp);
    h5_require(H5Fflush(m.file.get(), H5F_SCOPE_GLOBAL) >= 0, m.tmp, "flush");
    // Every handle closes before the fsync and the rename.
    m.offsets.reset();
    m.tokens.reset();
    m.file.reset();
    // Data on disk before the name points at it: fsync the file, rename, then fsync the folder so
    // the rename itself survives a crash.
    if (!io::fsync_path(m.tmp, false)) throw WriteError("fsync " + m.tmp + ": " + errno_text());
    if (std::rename(m.tmp.c_str(), m.path.c_str()) != 0) {
      throw WriteError("rename " + m.tmp + " -> " + m.path + ": " + errno_text());
    }
  } catch (...) {
    abandon();  // the error (InputError or WriteError) goes on
    throw;
  }
  m.done = true;
  if (!io::fsync_path(io::parent_dir(m.path), true)) {
    throw std::runtime_error("fsync folder of " + m.path + ": " + errno_text());
  }
}

void write_shard(const std::string& path, const std::vector<uint32_t>& tokens,
                 const std::vector<uint64_t>& doc_offsets, int vocab_size, int eot_token,
                 const std::string& tokenizer) {
  ShardWriter w(path, vocab_size, eot_token, tokenizer);
  w.append_tokens(tokens.data(), tokens.size());
  w.append_doc_offsets(doc_offsets.data(), doc_offsets.size());
  w.finish();
}

}  // namespace data
