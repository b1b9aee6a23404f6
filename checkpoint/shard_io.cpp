// checkpoint/shard_io.cpp
// The HDF5 side of checkpoints: writing one rank's file (one 1-D dataset per piece) and reading a
// dataset back with its CRC32C checked.
//
// Called by save.cpp (write_shard_file, from the background writer thread) and load.cpp
// (ShardReader, on the main thread). Knows nothing about manifests or layouts.
//
// Choices that matter:
//  - Files use the HDF5 1.8+ object format (libver bounds V18..LATEST): superblock v2 and object
//    headers v2 carry checksums, so a flipped byte in HDF5's own metadata is an error on open
//    instead of a wild read. Data bytes are covered by our CRC32C. h5py/h5dump read these files.
//  - Datasets are contiguous (no chunking, no filters): written and read at disk speed, and the
//    stored bytes are exactly the piece's bytes, so the CRC of the buffer is the CRC on disk.
//  - bf16/fp16 are stored as 16-bit unsigned integers (HDF5 has no bfloat16); the `dtype`
//    attribute of each dataset says which, for readers other than kiln.
//  - I/O goes in blocks of kBlock bytes. HDF5 here is the thread-safe build with one global lock:
//    a single 1 GB H5Dwrite in the writer thread would hold that lock (and stall the data loader's
//    reads) for the whole write; blocks let other threads in between.
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "checkpoint/internal.h"
#include "data/io.h"
#include "kernels/check.h"

namespace checkpoint::detail {

static_assert(std::endian::native == std::endian::little, "checkpoint files store little-endian bytes as they are in memory");

namespace {

using data::io::H5Id;
constexpr hsize_t kBlock = hsize_t(64) << 20;  // bytes per H5Dwrite / H5Dread call

// The HDF5 type a dtype is stored as. Little-endian on disk and in memory, so it serves as both
// the file type and the memory type (no conversion inside HDF5).
hid_t h5_type(kernels::DType d) {
  switch (d) {
    case kernels::DType::F32: return H5T_IEEE_F32LE;
    case kernels::DType::F64: return H5T_IEEE_F64LE;
    case kernels::DType::I32: return H5T_STD_I32LE;
    case kernels::DType::U32: return H5T_STD_U32LE;
    case kernels::DType::BF16: case kernels::DType::F16: case kernels::DType::U16: return H5T_STD_U16LE;
  }
  return H5T_STD_U8LE;
}

[[noreturn]] void write_failed(const std::string& path, const std::string& what, std::string h5 = "") {
  if (h5.empty()) h5 = data::io::last_hdf5_error();
  throw std::runtime_error(path + ": " + what + (h5.empty() ? "" : " (" + h5 + ")"));
}

bool write_string_attr(hid_t obj, const char* name, const std::string& value) {
  H5Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Id space(H5Screate(H5S_SCALAR));
  H5Id attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  return attr.ok() && H5Awrite(attr.get(), type.get(), value.c_str()) >= 0;
}

bool write_int_attr(hid_t obj, const char* name, int64_t value) {
  H5Id space(H5Screate(H5S_SCALAR));
  H5Id attr(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  return attr.ok() && H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) >= 0;
}

// Moves `count` elements between `buf` and dataset `ds` block by block. write=true writes. On
// failure *why holds HDF5's reason, taken before any handle closes (a close clears the stack).
bool transfer(hid_t ds, hid_t type, size_t esize, int64_t count, void* buf, bool write, std::string* why) {
  const hsize_t per = std::max<hsize_t>(1, kBlock / esize);
  H5Id fspace(H5Dget_space(ds));
  if (!fspace.ok()) return false;
  for (hsize_t off = 0; off < hsize_t(count); off += per) {
    const hsize_t n = std::min<hsize_t>(per, hsize_t(count) - off);
    if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &off, nullptr, &n, nullptr) < 0) return false;
    H5Id mspace(H5Screate_simple(1, &n, nullptr));
    char* p = static_cast<char*>(buf) + off * esize;
    const herr_t rc = write ? H5Dwrite(ds, type, mspace.get(), fspace.get(), H5P_DEFAULT, p)
                            : H5Dread(ds, type, mspace.get(), fspace.get(), H5P_DEFAULT, p);
    if (rc < 0) {
      *why = data::io::last_hdf5_error();
      return false;
    }
  }
  return true;
}

}  // namespace

void write_shard_file(const std::string& path, int rank, std::vector<WriteItem>& items) {
  data::io::QuietHdf5 quiet;  // errors become exceptions with HDF5's message, not stderr noise
  {
    H5Id fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    H5Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
    if (!file.ok()) write_failed(path, "cannot create");
    if (!write_string_attr(file.get(), "kiln_format", "checkpoint_shard") ||
        !write_int_attr(file.get(), "format_version", kFormatVersion) || !write_int_attr(file.get(), "rank", rank))
      write_failed(path, "cannot write attributes");
    for (WriteItem& it : items) {
      SliceRecord& r = it.rec;
      const size_t esize = kernels::dtype_size(r.dtype);
      const hsize_t n = hsize_t(r.count);
      H5Id space(H5Screate_simple(1, &n, nullptr));
      H5Id ds(H5Dcreate2(file.get(), r.dataset.c_str(), h5_type(r.dtype), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT));
      if (!ds.ok()) write_failed(path, "cannot create dataset '" + r.dataset + "'");
      std::string why;
      if (!write_string_attr(ds.get(), "tensor", r.tensor) ||
          !write_string_attr(ds.get(), "dtype", kernels::dtype_name(r.dtype)) ||
          !transfer(ds.get(), h5_type(r.dtype), esize, r.count, const_cast<std::byte*>(it.data), true, &why))
        write_failed(path, "cannot write dataset '" + r.dataset + "'", why);
      r.crc32c = crc32c(it.data, size_t(r.count) * esize);
    }
    // Flush before the handles close so a failure (disk full) is seen here, not lost in a close.
    if (H5Fflush(file.get(), H5F_SCOPE_LOCAL) < 0) write_failed(path, "cannot flush");
  }
  // The file is closed (all ids above released); now make its bytes durable. The folder entry is
  // made durable later, by rank 0's fsync of the whole step folder before the rename.
  if (!data::io::fsync_path(path, false)) throw std::runtime_error(path + ": fsync failed");
}

ShardReader::ShardReader(const std::string& path) : path_(path) {
  // A FIFO named like a rank file would block H5Fopen forever: regular files only.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw kernels::InputError(path + ": not a regular file (expected an HDF5 checkpoint file)");
  data::io::QuietHdf5 quiet;
  // CLOSE_STRONG: closing the file also closes any object of it still open inside HDF5, so a
  // reader never keeps a damaged file alive. (HDF5 1.10.8 may still print "infinite loop closing
  // library" at exit after a metadata checksum failure: a harmless leak inside HDF5.)
  H5Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (file_ < 0) {
    const std::string h5 = data::io::last_hdf5_error();
    throw kernels::InputError(path + ": cannot open as an HDF5 checkpoint file" + (h5.empty() ? "" : ": " + h5));
  }
}

ShardReader::~ShardReader() {
  if (file_ >= 0) H5Fclose(hid_t(file_));
}

void ShardReader::read(const std::string& dataset, kernels::DType dtype, int64_t count, uint32_t crc,
                       const std::string& tensor, void* dst) {
  data::io::QuietHdf5 quiet;
  const std::string where = tensor + ": " + path_ + ", dataset '" + dataset + "': ";
  auto bad = [&](const std::string& what) {
    const std::string h5 = data::io::last_hdf5_error();
    throw kernels::InputError(where + what + (h5.empty() ? "" : " (" + h5 + ")"));
  };
  H5Id ds(H5Dopen2(hid_t(file_), dataset.c_str(), H5P_DEFAULT));
  if (!ds.ok()) bad("cannot open the dataset");
  H5Id space(H5Dget_space(ds.get()));
  hsize_t n = 0;
  if (!space.ok() || H5Sget_simple_extent_ndims(space.get()) != 1 || H5Sget_simple_extent_dims(space.get(), &n, nullptr) != 1)
    bad("not a 1-D dataset");
  if (n != hsize_t(count)) bad("holds " + std::to_string(n) + " elements, the manifest says " + std::to_string(count));
  H5Id type(H5Dget_type(ds.get()));
  if (!type.ok() || H5Tequal(type.get(), h5_type(dtype)) <= 0)
    bad(std::string("stored type does not match the manifest's ") + kernels::dtype_name(dtype));
  std::string why;
  if (!transfer(ds.get(), h5_type(dtype), kernels::dtype_size(dtype), count, dst, false, &why))
    bad("read failed" + (why.empty() ? "" : " (" + why + ")"));
  const uint32_t got = crc32c(dst, size_t(count) * kernels::dtype_size(dtype));
  if (got != crc)
    throw kernels::InputError(where + "CRC32C mismatch (manifest " + crc_hex(crc) + ", data " + crc_hex(got) +
                              "): the file is damaged");
}

}  // namespace checkpoint::detail
