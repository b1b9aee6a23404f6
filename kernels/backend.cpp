// kernels/backend.cpp
// Switchboard for the op table: picks the CPU or CUDA table at run time. The CUDA table lives in
// the CUDA plugin (kernels/cuda_plugin.h), loaded here only once the driver reports a GPU.
#include <cstring>

#include "kernels/check.h"
#include "kernels/cpu/ops_cpu.h"
#include "kernels/ops.h"
#if KILN_HAVE_CUDA
#include "kernels/cuda_plugin.h"
#include "kernels/device.h"
#endif

namespace kernels {

namespace {
// A table is complete when every function pointer after `name` is set.
bool table_complete(const Ops& ops) {
  const auto* begin = reinterpret_cast<const char*>(&ops) + sizeof(const char*);
  const auto* end = reinterpret_cast<const char*>(&ops) + sizeof(Ops);
  for (const char* p = begin; p < end; p += sizeof(void*)) {
    void* fn = nullptr;
    std::memcpy(&fn, p, sizeof(void*));
    if (fn == nullptr) return false;
  }
  return true;
}
}  // namespace

bool cuda_backend_ready() {
#if KILN_HAVE_CUDA
  return gpu_count() > 0 && cuda_plugin().gpu_count() > 0 && table_complete(*cuda_plugin().ops);
#else
  return false;
#endif
}

const Ops& ops_for(Device d) {
  if (d == Device::kCpu) {
    KILN_CHECK(table_complete(cpu::kOps), "CPU op table has an empty entry");
    return cpu::kOps;
  }
#if KILN_HAVE_CUDA
  if (gpu_count() == 0 || cuda_plugin().gpu_count() == 0)
    throw InputError("train.device=cuda, but no GPU is visible to this process");
  const Ops& ops = *cuda_plugin().ops;
  if (!table_complete(ops))
    throw InputError("train.device=cuda, but this build's CUDA backend does not implement every op yet");
  return ops;
#else
  throw InputError("train.device=cuda, but this binary was built without CUDA (configure with -DKILN_WITH_CUDA=ON)");
#endif
}

}  // namespace kernels
