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

namespace {
// HDF5 registers an atexit() handler that closes every file still open. When a close failed (a
// disk that filled up while a checkpoint was written: H5Fclose cannot flush and returns an error),
// HDF 1.10.8 keeps a half-torn-down file in its tables and that handler dereferences it: the
// right error message, then SIGSEGV at exit. kiln closes every handle itself (H5Id, RAII) and never
// relies on the exit-time flush, so the handler is switched off before the library initialises.
// It must run before any other HDF5 call: a namespace-scope initialiser of the object file every
// HDF5 user in kiln links (data/io.h is the only way in) does that.
const bool kHdf5ExitHandlerOff = [] {
  H5dont_atexit();
  return true;
}();
}  // namespace

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
  // The POSIX driver's messages run over several lines ("file write failed: time = <ctime>\n,
  // filename = ..., errno = 28, error message = 'No space left on device', buf = 0x..."): keep
  // what the user can act on, on one line.
  const std::string tag = "error message = '";
  if (const size_t at = msg.find(tag); at != std::string::npos) {
    const size_t end = msg.find('\'', at + tag.size());
    const std::string head = msg.substr(0, msg.find(':'));
    msg = head + ": " + msg.substr(at + tag.size(), end == std::string::npos ? std::string::npos : end - at - tag.size());
  }
  for (char& c : msg)
    if (c == '\n' || c == '\r') c = ' ';
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
