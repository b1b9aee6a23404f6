// kernels/cudasim/trace.cpp
// The launch trace of trace.h, the test context each line carries (set_trace_context, launch.h),
// and kernel names as the source spells them (from __PRETTY_FUNCTION__, launch.h). The file is
// opened at the first launch of the process and flushed after every line, so a crash keeps it.
#include "kernels/cudasim/trace.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "kernels/cudasim/launch.h"

namespace cudasim {

namespace {

std::mutex g_trace_mutex;
std::string g_trace_context;

std::FILE* trace_file() {
  static std::FILE* f = [] {
    const char* path = std::getenv("KILN_CUDASIM_TRACE");
    if (path == nullptr || path[0] == '\0') return static_cast<std::FILE*>(nullptr);
    std::FILE* file = std::fopen(path, "a");
    if (file == nullptr) std::fprintf(stderr, "cudasim: cannot open KILN_CUDASIM_TRACE=%s for appending\n", path);
    return file;
  }();
  return f;
}

}  // namespace

void set_trace_context(const std::string& context) {
  std::lock_guard<std::mutex> lock(g_trace_mutex);
  g_trace_context = context;
}

namespace detail {

void trace_launch(const char* kernel_name, dim3 grid, dim3 block, size_t shared_bytes) {
  std::lock_guard<std::mutex> lock(g_trace_mutex);
  std::FILE* f = trace_file();
  if (f == nullptr) return;
  std::fprintf(f, "%s grid=(%u,%u,%u) block=(%u,%u,%u) shared=%zu%s%s\n", kernel_name, grid.x, grid.y, grid.z, block.x,
               block.y, block.z, shared_bytes, g_trace_context.empty() ? "" : " test=", g_trace_context.c_str());
  std::fflush(f);
}

// "const char* cudasim::detail::kernel_name() [with auto Kernel = ns::{anonymous}::k<ns::T, 32>]"
// (GCC; clang: "[Kernel = &ns::(anonymous namespace)::k<ns::T, 32>]") -> "k<T, 32>": the kernel's
// name as in the source, namespaces dropped (also in its arguments).
std::string kernel_display_name(const char* pretty) {
  std::string s = pretty;
  const size_t start = s.find("Kernel = ");
  if (start == std::string::npos) return s;
  size_t i = start + 9, depth = 0;
  std::string name;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<' || c == '(') ++depth;
    if (c == '>' || c == ')') --depth;
    if (depth == 0 && (c == ';' || c == ']')) break;
    name += c;
  }
  if (!name.empty() && name[0] == '&') name.erase(0, 1);
  // clang spells GCC's "{anonymous}::" as "(anonymous namespace)::".
  for (size_t a; (a = name.find("(anonymous namespace)::")) != std::string::npos;) name.erase(a, 23);
  // Drop every namespace qualifier ("ns::", "{anonymous}::"), in the name and its arguments.
  std::string out;
  for (size_t k = 0; k < name.size(); ++k) {
    if (name.compare(k, 2, "::") == 0) {
      size_t b = out.size();
      while (b > 0 && (std::isalnum(static_cast<unsigned char>(out[b - 1])) || out[b - 1] == '_' ||
                       out[b - 1] == '{' || out[b - 1] == '}'))
        --b;
      out.erase(b);
      ++k;
      continue;
    }
    out += name[k];
  }
  return out;
}

}  // namespace detail

}  // namespace cudasim
