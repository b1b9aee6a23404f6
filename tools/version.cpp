// tools/version.cpp
// `kiln --version`: `key: value` lines (CONTRACTS §6), read by scripts and bug reports. Cheap on
// purpose: versions are the compiled-against ones and `gpus` comes from the driver, so the CUDA
// plugin is loaded only when a GPU is visible (for the `backends` line).
#include <cstdio>

#include "kernels/device.h"
#include "kernels/ops.h"
#include "launch/versions.h"
#include "tools/commands.h"

namespace tools {

void print_version() {
  const kernels::BuildInfo b = kernels::build_info();
  std::printf("kiln: %s\n", KILN_VERSION);
  std::printf("cuda: %s\n", b.cuda_version.c_str());
  std::printf("nccl: %s\n", b.nccl_version.c_str());
  std::printf("cudnn: %s\n", b.cudnn_version.c_str());
  std::printf("mpi: %s\n", launch::mpi_version().c_str());
  std::printf("hdf5: %s\n", launch::hdf5_version().c_str());
  // Where the CUDA backend would be loaded from on the first GPU use (not loaded to find out).
  std::printf("cuda_plugin: %s\n", !b.cuda ? "no" : !b.cuda_plugin.empty() ? b.cuda_plugin.c_str() : "missing");
  std::printf("gpus: %d\n", kernels::gpu_count());
  std::printf("backends: cpu%s\n", kernels::cuda_backend_ready() ? ", cuda" : "");
}

}  // namespace tools
