// data/shard_write.cpp
// write_shard(): one token shard in the HDF5 layout of CONTRACTS §4, made durable and atomic.
//
// Called by prepare() (and by tests that need shards). The file appears under its final name only
// once complete: HDF5 writes NAME.tmp, the file is closed, fsynced, renamed, and the folder fsynced,
// so a crash leaves either the old state or the whole shard, never half of one. Does not validate
// what callers promised (ids < vocab_size, sorted offsets) beyond a check that stops on a bug; the
// reader (shard_read.cpp) is what defends against bad files.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
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

// A chunked 1-D dataset with unlimited max size: an unlimited dimension lets the chunk be larger
// than the data (HDF5 rejects that for fixed sizes), so tiny and empty shards need no special case.
void write_1d(hid_t file, const char* name, hid_t file_type, hid_t mem_type, const void* data,
              hsize_t n, hsize_t chunk, const std::string& path) {
  const hsize_t maxdim = H5S_UNLIMITED;
  io::H5Id space(H5Screate_simple(1, &n, &maxdim));
  io::H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  h5_require(space.ok() && dcpl.ok() && H5Pset_chunk(dcpl.get(), 1, &chunk) >= 0, path, name);
  io::H5Id ds(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  h5_require(ds.ok(), path, name);
  if (n > 0) h5_require(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, path, name);
}

// Everything HDF5 does, into `tmp`. All handles close before this returns (or throws), so the
// caller may fsync, rename or delete the file afterwards.
void write_hdf5(const std::string& tmp, const std::vector<uint32_t>& tokens,
                const std::vector<uint64_t>& doc_offsets, int vocab_size, int eot_token,
                const std::string& tokenizer) {
  // The newest file format this HDF5 writes (1.10's with 1.10.x): superblock, object headers and
  // the chunk index of /tokens all carry checksums, so a flipped byte in HDF5's own metadata is an
  // error on open instead of a wild read. Shards written with the default (oldest) format by
  // earlier kiln versions or other tools still load: readers accept every format version.
  io::H5Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  h5_require(fapl.ok() && H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0, tmp,
             "file format");
  io::H5Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!file.ok()) {
    // Usually a missing or read-only output folder: something the user can fix.
    const std::string why = io::last_hdf5_error();
    throw kernels::InputError("cannot create shard file " + tmp +
                              (why.empty() ? "" : " (HDF5: " + why + ")") +
                              "; expected a writable output folder");
  }
  const hsize_t n = tokens.size();
  if (vocab_size <= 65536) {
    // uint16 halves the file for byte and GPT-2 vocabularies; ids were checked to fit.
    std::vector<uint16_t> narrow(tokens.begin(), tokens.end());
    write_1d(file.get(), "tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, narrow.data(), n, kTokenChunk, tmp);
  } else {
    write_1d(file.get(), "tokens", H5T_STD_U32LE, H5T_NATIVE_UINT32, tokens.data(), n, kTokenChunk, tmp);
  }
  write_1d(file.get(), "doc_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, doc_offsets.data(),
           doc_offsets.size(), kOffsetChunk, tmp);
  write_string_attr(file.get(), "kiln_format", "tokens", tmp);
  write_int_attr(file.get(), "format_version", 1, tmp);
  write_int_attr(file.get(), "vocab_size", vocab_size, tmp);
  write_int_attr(file.get(), "eot_token", eot_token, tmp);
  write_string_attr(file.get(), "tokenizer", tokenizer, tmp);
  h5_require(H5Fflush(file.get(), H5F_SCOPE_GLOBAL) >= 0, tmp, "flush");
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

void write_shard(const std::string& path, const std::vector<uint32_t>& tokens,
                 const std::vector<uint64_t>& doc_offsets, int vocab_size, int eot_token,
                 const std::string& tokenizer) {
  // Caller promises (shard.h); breaking them is a bug in kiln, not bad user input.
  KILN_CHECK(vocab_size > 0, "write_shard " + path + ": vocab_size must be positive");
  KILN_CHECK(eot_token >= -1 && eot_token < vocab_size, "write_shard " + path + ": eot_token out of range");
  for (size_t i = 0; i < tokens.size(); ++i) {
    KILN_CHECK(tokens[i] < uint32_t(vocab_size),
               "write_shard " + path + ": id " + std::to_string(tokens[i]) + " at index " +
                   std::to_string(i) + " >= vocab_size " + std::to_string(vocab_size));
  }
  for (size_t i = 0; i < doc_offsets.size(); ++i) {
    KILN_CHECK(doc_offsets[i] < tokens.size() && (i == 0 || doc_offsets[i] > doc_offsets[i - 1]),
               "write_shard " + path + ": doc_offsets must increase and point inside /tokens");
  }

  const std::string tmp = path + ".tmp";
  io::QuietHdf5 quiet;
  try {
    write_hdf5(tmp, tokens, doc_offsets, vocab_size, eot_token, tokenizer);
    // Data on disk before the name points at it: fsync the file, rename, then fsync the folder so
    // the rename itself survives a crash.
    if (!io::fsync_path(tmp, false)) throw WriteError("fsync " + tmp + ": " + errno_text());
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      throw WriteError("rename " + tmp + " -> " + path + ": " + errno_text());
    }
  } catch (...) {
    // Never leave a half-written NAME.tmp behind; the error (InputError or WriteError) goes on.
    std::remove(tmp.c_str());
    throw;
  }
  if (!io::fsync_path(io::parent_dir(path), true)) {
    throw std::runtime_error("fsync folder of " + path + ": " + errno_text());
  }
}

}  // namespace data
