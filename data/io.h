// data/io.h
// Small I/O helpers shared by the data folder: an owning HDF5 handle, a guard that silences HDF5's
// automatic error printing, the innermost HDF5 error message, and fsync/atomic-write helpers.
//
// Called by shard_write.cpp, shard_read.cpp, tokenizer.cpp and prepare.cpp. Internal to data/: not
// a general HDF5 wrapper (checkpoint/ has its own needs), and it never throws InputError itself:
// callers know which file and which problem to name.
#pragma once

#include <hdf5.h>

#include <string>

namespace data::io {

// Owns one HDF5 identifier (file, dataset, dataspace, type, attribute, property list) and closes it
// with H5Oclose/H5Fclose/... via H5Idec_ref. Objects are closed before their file because handles
// are declared after the file handle they come from and destroyed in reverse order.
class H5Id {
 public:
  H5Id() = default;
  explicit H5Id(hid_t id) : id_(id) {}
  ~H5Id() { reset(); }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  H5Id(H5Id&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  H5Id& operator=(H5Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  void reset() {
    // H5Idec_ref works for every id type; a negative id means "nothing owned".
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// While alive, HDF5 prints nothing on its own; the previous handler is restored afterwards so other
// folders (checkpoint/) keep whatever setting they chose. Errors still land on the error stack, so
// last_hdf5_error() can quote them.
class QuietHdf5 {
 public:
  QuietHdf5();
  ~QuietHdf5();
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  H5E_auto2_t saved_func_ = nullptr;
  void* saved_data_ = nullptr;
};

// The innermost message on HDF5's default error stack (where the problem was first detected, e.g.
// "truncated file: eof = ..."), or "" when the stack is empty. Clears the stack.
std::string last_hdf5_error();

// fsync of a file or a folder by path; returns false (errno set) on failure. The folder fsync
// makes a rename inside it durable.
bool fsync_path(const std::string& path, bool is_dir);

// Writes `bytes` to `path` and fsyncs it; returns false on failure (the caller names the file).
bool write_file_synced(const std::string& path, const std::string& bytes);

// The folder part of a path ("." for a bare file name), for fsyncing after a rename.
std::string parent_dir(const std::string& path);

}  // namespace data::io
