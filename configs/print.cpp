// configs/print.cpp
// How a Config goes out: YAML text (YamlWriter), the resolved config.yaml in the run folder
// (write_config), and comparison (Equals, for operator== and differences()). Declared in
// configs/load.h; reading is in load.cpp.
//
// Callers: tools/ writes <out_dir>/<name>/config.yaml before step 0 (CONTRACTS §3); checkpoint/
// embeds to_yaml() in each manifest and compares configs on resume.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include "configs/config.h"
#include "configs/fields.h"
#include "configs/load.h"
#include "configs/validate.h"

namespace configs {
namespace fs = std::filesystem;

namespace {

// Emits every key of every section, in visit() order, as block-style YAML. Numbers and bools go
// through format_field (the exact text the reader parses back); strings go through yaml-cpp's
// emitter, which quotes and escapes what needs it.
class YamlWriter {
 public:
  explicit YamlWriter(YAML::Emitter& out) : out_(out) {}

  template <class T> void operator()(const char* name, T& field) {
    if constexpr (detail::OptionalScalar<T>) {
      if (!field) return;  // unset: the key is absent (resolve_defaults fills what an arch uses)
    }
    out_ << YAML::Key << name << YAML::Value;
    if constexpr (detail::Section<T>) {
      out_ << YAML::BeginMap;
      field.visit(*this);
      out_ << YAML::EndMap;
    } else if constexpr (std::same_as<T, std::string>) {
      // A run named "1337" or a resume path "null" must stay a string for any YAML reader.
      if (detail::looks_like_non_string(field)) out_ << YAML::DoubleQuoted;
      out_ << field;
    } else {
      static_assert(detail::Field<T>, "config field of an unsupported type: add it to fields.h");
      out_ << detail::format_field(field);
    }
  }

 private:
  YAML::Emitter& out_;
};

// Collects the addresses of one section's fields, in visit() order. Equals pairs them with the
// fields of another object of the same type: same type, same visit(), so the i-th address has
// the i-th field's type and the static_cast below is exact.
struct FieldAddresses {
  std::vector<void*> at;
  template <class T> void operator()(const char*, T& field) { at.push_back(&field); }
};

template <class S> std::vector<void*> addresses_of(S& s) {
  FieldAddresses a;
  s.visit(a);
  return a.at;
}

// Walks `a` and compares each field with the same field of `b`; records "key: x vs y" for each
// difference. Sections recurse with their own pair of objects.
class Equals {
 public:
  Equals(std::vector<void*> other, std::string prefix, std::vector<std::string>& diffs)
      : other_(std::move(other)), prefix_(std::move(prefix)), diffs_(diffs) {}

  template <class T> void operator()(const char* name, T& a) {
    T& b = *static_cast<T*>(other_.at(next_++));
    if constexpr (detail::Section<T>) {
      Equals inner(addresses_of(b), prefix_ + name + ".", diffs_);
      a.visit(inner);
    } else {
      static_assert(detail::Field<T>, "config field of an unsupported type: add it to fields.h");
      if (a == b) return;  // doubles exactly: a resumed run must not drift by a rounding
      if constexpr (std::same_as<T, std::string>)
        diffs_.push_back(prefix_ + name + ": " + detail::single_quoted(a) + " vs " + detail::single_quoted(b));
      else
        diffs_.push_back(prefix_ + name + ": " + detail::format_field(a) + " vs " + detail::format_field(b));
    }
  }

 private:
  std::vector<void*> other_;
  size_t next_ = 0;
  std::string prefix_;
  std::vector<std::string>& diffs_;
};

[[noreturn]] void io_failure(const std::string& what, const fs::path& path, int err) {
  throw std::runtime_error(path.string() + ": " + what + ": " + std::strerror(err));
}

}  // namespace

std::string to_yaml(const Config& c) {
  Config copy = c;  // visit() is non-const because readers write through it; the writer does not
  resolve_defaults(copy);  // every key the architecture uses is listed with its value
  YAML::Emitter out;
  out << YAML::Comment("kiln resolved config: defaults, inherited files and overrides applied; every key listed");
  out << YAML::Newline << YAML::BeginMap;
  YamlWriter w(out);
  copy.visit(w);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> differences(const Config& a, const Config& b) {
  Config x = a, y = b;  // copies for the same reason as in to_yaml; a Config is small
  resolve_defaults(x);  // a default left unset equals the same default written out
  resolve_defaults(y);
  std::vector<std::string> diffs;
  Equals eq(addresses_of(y), "", diffs);
  x.visit(eq);
  return diffs;
}

bool operator==(const Config& a, const Config& b) { return differences(a, b).empty(); }

std::ostream& operator<<(std::ostream& os, const Config& c) { return os << to_yaml(c); }

void write_config(const Config& c, const std::string& path) {
  const std::string text = to_yaml(c);
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) io_failure("cannot create folder", target.parent_path(), ec.value());
  }
  // The pid keeps two processes that write the same run folder (a mistaken second launch) from
  // sharing one temp file; rename then decides which complete file wins.
  fs::path tmp = target;
  tmp += ".tmp." + std::to_string(::getpid());

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_failure("cannot create", tmp, errno);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      io_failure("cannot write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  // fsync before rename: otherwise a crash can leave the new name pointing at empty data.
  const int sync_rc = ::fsync(fd), sync_err = errno;
  const int close_rc = ::close(fd);
  if (sync_rc != 0 || close_rc != 0) {
    const int err = sync_rc != 0 ? sync_err : errno;
    ::unlink(tmp.c_str());
    io_failure("cannot flush", tmp, err);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_failure("cannot rename temp file onto", target, err);
  }
  // Make the rename itself durable; a failure here loses nothing already on disk, so ignore it.
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace configs
