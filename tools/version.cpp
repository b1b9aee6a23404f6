// tools/version.cpp
// `kiln --version`: `key: value` lines (CONTRACTS §6), read by scripts and bug reports.
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
  std::printf("gpus: %d\n", kernels::gpu_count());
  std::printf("backends: cpu%s\n", kernels::cuda_backend_ready() ? ", cuda" : "");
}

}  // namespace tools
