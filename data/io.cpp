// data/io.cpp
// Implementation of data/io.h: HDF5 error-stack handling and the fsync helpers behind the
// "written to NAME.tmp, closed, fsynced, renamed" rule of CONTRACTS §4.
//
// Called by the shard writer/reader, the tokenizer and prepare. Does not decide what an error means
// for the user: functions here report success or failure and let the caller name the file.
#include "data/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

namespace data::io {

QuietHdf5::QuietHdf5() {
  H5Eget_auto2(H5E_DEFAULT, &saved_func_, &saved_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  // A stale stack from an earlier, unrelated call would otherwise be quoted as our error.
  H5Eclear2(H5E_DEFAULT);
}

QuietHdf5::~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, saved_func_, saved_data_); }

namespace {
// H5Ewalk2 callback: entry 0 of an upward walk is the most specific error (where it started).
herr_t take_innermost(unsigned n, const H5E_error2_t* err, void* client) {
  if (n == 0 && err != nullptr && err->desc != nullptr) {
    *static_cast<std::string*>(client) = err->desc;
  }
  return 0;
}
}  // namespace

std::string last_hdf5_error() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

bool fsync_path(const std::string& path, bool is_dir) {
  // O_RDONLY is enough for fsync on Linux, and the only way to open a folder.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0));
  if (fd < 0) return false;
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return rc == 0;
}

bool write_file_synced(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool wrote = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  // fflush before fsync: stdio's buffer must reach the kernel first.
  const bool flushed = std::fflush(f) == 0;
  const bool synced = flushed && ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  return wrote && flushed && synced && closed;
}

std::string parent_dir(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace data::io
