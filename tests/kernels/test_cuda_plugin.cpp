// tests/kernels/test_cuda_plugin.cpp
// The CUDA backend is a plugin loaded on demand (kernels/cuda_plugin.h). On a machine without a
// GPU: asking about devices (gpu_count, build_info, cuda_backend_ready) loads nothing heavy; the
// plugin file is found beside libkiln_kernels.so and loads (every symbol resolves, its table is
// complete, the runtime reports 0 GPUs); a missing plugin is an InputError that says what was
// tried. The order of the tests matters: the first runs before anything loads the plugin.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "kernels/check.h"
#include "kernels/cuda_plugin.h"
#include "kernels/device.h"
#include "kernels/ops.h"

namespace {

// True when a mapped file of this process has `name` in its path.
bool mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find(name) != std::string::npos) return true;
  }
  return false;
}

const char* const kHeavy[] = {"libkiln_cuda", "libcublas", "libcudnn", "libnccl", "libcudart"};

TEST(CudaPlugin, DeviceQueriesLoadNothingWithoutAGpu) {
  if (kernels::cuda_driver_gpu_count() > 0) GTEST_SKIP() << "a GPU is visible: the plugin is loaded on purpose";
  EXPECT_EQ(kernels::gpu_count(), 0);
  EXPECT_FALSE(kernels::cuda_backend_ready());
  EXPECT_EQ(kernels::gpu_name(), "");
  EXPECT_EQ(kernels::gpu_peak_allocated_bytes(), 0u);
  const kernels::BuildInfo b = kernels::build_info();
  EXPECT_EQ(b.cuda, !b.cuda_plugin.empty()) << "a CUDA build must find its plugin file: " << b.cuda_plugin;
  EXPECT_FALSE(kernels::cuda_plugin_loaded());
  for (const char* lib : kHeavy) EXPECT_FALSE(mapped(lib)) << lib << " was loaded by a device query";
}

TEST(CudaPlugin, MissingPluginIsAClearError) {
  // In a child process (the fork-based death test), so the cached result of the real load below
  // is not disturbed.
  EXPECT_EXIT(
      {
        setenv("KILN_CUDA_PLUGIN", "/nonexistent/libkiln_cuda.so", 1);
        try {
          kernels::cuda_plugin();
        } catch (const kernels::InputError& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::exit(3);
        }
        std::exit(0);
      },
      testing::ExitedWithCode(3), "cannot load the CUDA backend.*\n.*/nonexistent/libkiln_cuda.so: no such file");
}

TEST(CudaPlugin, LoadsBesideTheCoreLibraryWithACompleteTable) {
  const kernels::BuildInfo b = kernels::build_info();
  if (!b.cuda) {
    EXPECT_EQ(b.cuda_version, "no");
    EXPECT_THROW(kernels::cuda_plugin(), kernels::InputError);  // no plugin file in a CPU-only build
    return;
  }
  const kernels::CudaPlugin& p = kernels::cuda_plugin();
  EXPECT_TRUE(kernels::cuda_plugin_loaded());
  EXPECT_TRUE(mapped("libkiln_cuda.so"));
  EXPECT_TRUE(mapped("libcublasLt")) << "the plugin carries the CUDA libraries";
  EXPECT_EQ(p.abi, kernels::kCudaPluginAbi);
  ASSERT_NE(p.ops, nullptr);
  EXPECT_STREQ(p.ops->name, "cuda");
  EXPECT_EQ(p.nccl_id_bytes, 128u);  // NCCL_UNIQUE_ID_BYTES
  // The runtime agrees with the driver probe (0 here without a GPU), and the libraries loaded
  // are the ones the build was compiled against.
  EXPECT_EQ(p.gpu_count(), kernels::cuda_driver_gpu_count());
  EXPECT_EQ(p.runtime_version(), b.cuda_version);
  EXPECT_EQ(p.cudnn_version(), b.cudnn_version);
  EXPECT_EQ(p.nccl_version(), b.nccl_version);
  for (auto fn : {(void*)p.gpu_count, (void*)p.set_device, (void*)p.device_name, (void*)p.alloc, (void*)p.free,
                  (void*)p.copy, (void*)p.memset_zero, (void*)p.synchronize, (void*)p.peak_allocated_bytes,
                  (void*)p.stream_create_nonblocking, (void*)p.stream_destroy, (void*)p.event_create,
                  (void*)p.event_destroy, (void*)p.event_record, (void*)p.stream_wait_event,
                  (void*)p.copy_device_async, (void*)p.pci_bus_id, (void*)p.nccl_unique_id, (void*)p.nccl_comm_init,
                  (void*)p.nccl_comm_destroy, (void*)p.nccl_all_reduce, (void*)p.nccl_all_gather,
                  (void*)p.nccl_reduce_scatter, (void*)p.nccl_broadcast}) {
    EXPECT_NE(fn, nullptr);
  }
  // Still no GPU after loading: the CPU-only answers stand.
  if (p.gpu_count() == 0) {
    EXPECT_EQ(kernels::gpu_count(), 0);
    EXPECT_FALSE(kernels::cuda_backend_ready());
    EXPECT_THROW(kernels::ops_for(kernels::Device::kCuda), kernels::InputError);
  }
}

}  // namespace
