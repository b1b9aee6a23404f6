// kernels/cuda_plugin.cpp
// Loading the CUDA plugin and asking the driver for its GPU count (kernels/cuda_plugin.h).
// Backend-neutral on purpose: this file does not know whether CUDA was built (the switchboards
// do, and call it only when it was). Without a plugin file it just reports what it tried.
//
// Lifetime: the plugin and libcuda.so.1 stay loaded until the process exits (never dlclose'd:
// CUDA tears its context down at exit, and kernels may still be queued).
#include "kernels/cuda_plugin.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "kernels/check.h"

namespace kernels {
namespace fs = std::filesystem;

namespace {

std::mutex g_mu;
const CudaPlugin* g_plugin = nullptr;

// The folder of the shared object holding this code (libkiln_kernels.so; the executable itself
// if kiln_kernels is ever linked statically).
fs::path own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&cuda_plugin_loaded), &info) == 0 || info.dli_fname == nullptr) return {};
  std::error_code ec;
  const fs::path p = fs::canonical(info.dli_fname, ec);
  return ec ? fs::path() : p.parent_path();
}

// Paths to try, in order; "" stands for the bare file name (the dynamic linker's search path).
std::vector<std::string> candidates() {
  if (const char* env = std::getenv("KILN_CUDA_PLUGIN"); env != nullptr && *env != '\0') return {env};
  std::vector<std::string> out;
  if (const fs::path dir = own_folder(); !dir.empty()) {
    out.push_back((dir / kCudaPluginFile).string());
    out.push_back((dir.parent_path() / "lib" / kCudaPluginFile).string());  // bin/ next to lib/
  }
  out.push_back(kCudaPluginFile);
  return out;
}

const CudaPlugin* load(std::string* why) {
  for (const std::string& path : candidates()) {
    const bool bare = path.find('/') == std::string::npos;
    std::error_code ec;
    if (!bare && !fs::exists(path, ec)) {
      *why += "\n  " + path + ": no such file";
      continue;
    }
    // RTLD_LOCAL: the plugin's CUDA symbols stay out of the global namespace; it finds kiln's own
    // (libkiln_kernels.so) as an ordinary dependency.
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* err = dlerror();
      *why += "\n  " + path + ": " + (err != nullptr ? err : "dlopen failed");
      continue;
    }
    using Entry = const CudaPlugin* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(h, kCudaPluginEntry));
    const CudaPlugin* p = entry != nullptr ? entry() : nullptr;
    if (p == nullptr) {
      *why += "\n  " + path + ": no " + kCudaPluginEntry + " entry point (not a kiln CUDA plugin)";
      continue;
    }
    if (p->abi != kCudaPluginAbi) {
      *why += "\n  " + path + ": plugin ABI " + std::to_string(p->abi) + ", this kiln expects " +
              std::to_string(kCudaPluginAbi) + " (a stale build: rebuild kiln)";
      continue;
    }
    return p;
  }
  return nullptr;
}

}  // namespace

const CudaPlugin& cuda_plugin() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_plugin == nullptr) {
    std::string why;
    g_plugin = load(&why);
    if (g_plugin == nullptr) {
      throw InputError(std::string("cannot load the CUDA backend (") + kCudaPluginFile +
                       "); tried:" + why + "\n(set KILN_CUDA_PLUGIN=PATH to name the file)");
    }
  }
  return *g_plugin;
}

bool cuda_plugin_loaded() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_plugin != nullptr;
}

std::string cuda_plugin_path() {
  for (const std::string& path : candidates()) {
    std::error_code ec;
    if (path.find('/') != std::string::npos && fs::exists(path, ec)) return path;
  }
  return "";
}

int cuda_driver_gpu_count() {
  static const int count = [] {
    // The driver's C API: CUresult cuInit(unsigned), CUresult cuDeviceGetCount(int*); 0 = success.
    void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) return 0;
    using Init = int (*)(unsigned);
    using Count = int (*)(int*);
    auto init = reinterpret_cast<Init>(dlsym(h, "cuInit"));
    auto get_count = reinterpret_cast<Count>(dlsym(h, "cuDeviceGetCount"));
    int n = 0;
    if (init == nullptr || get_count == nullptr || init(0) != 0 || get_count(&n) != 0) return 0;
    return n;
  }();
  return count;
}

}  // namespace kernels
