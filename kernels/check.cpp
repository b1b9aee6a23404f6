// kernels/check.cpp
// Implementation of the single failure path declared in check.h.
#include "kernels/check.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace kernels {
namespace {
std::string& prefix_storage() {
  static std::string prefix;
  return prefix;
}
}  // namespace

void set_rank_prefix(std::string prefix) { prefix_storage() = std::move(prefix); }
const std::string& rank_prefix() { return prefix_storage(); }

void fail(const char* what, const std::string& detail, const char* file, int line) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s%s:%d: %s: %s\n", rank_prefix().c_str(), file, line, what, detail.c_str());
  std::fflush(stderr);
  // exit, not abort: under mpirun a non-zero exit tears the job down without a core dump per rank.
  std::exit(1);
}

}  // namespace kernels
