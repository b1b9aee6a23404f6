// tests/kernels_cuda/backend_cudasim.cpp
// The backend of test_kernels_cudasim: the same CUDA sources on the CPU simulator, through the
// `cudasim` op table on host memory; always available. Every simulated launch is tagged with the
// running test's name in the launch trace (KILN_CUDASIM_TRACE), which is how
// scripts/cudasim_kernel_coverage.py lists the tests that ran each kernel.
// Compiled with cuda=cudasim (tests/kernels_cuda/CMakeLists.txt): mma_check.h then declares the
// simulated entry points (flash_attention.h likewise).
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/mma_check.h"
#include "kernels/cudasim/launch.h"
#include "kernels/cudasim/ops_cudasim.h"
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {

namespace {

// The mma checks take device tensors: host memory relabelled, as the op table does.
Tensor dev(Tensor t) {
  t.device = Device::kCuda;
  return t;
}
void mma_tile(Tensor c, Tensor a, Tensor b, bool b_k_major, Stream s) {
  kernels::cudasim::mma_tile_matmul(dev(c), dev(a), dev(b), b_k_major, s);
}
void mma_chain(Tensor d, Tensor a, Tensor b1, Tensor b2, Stream s) {
  kernels::cudasim::mma_chain_matmul(dev(d), dev(a), dev(b1), dev(b2), s);
}

void gqa_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s) {
  kernels::cudasim::attention_gqa_forward(dev(out), dev(lse), dev(qkv), n_head, n_kv_head, s);
}
void gqa_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, int n_kv_head, Stream s) {
  kernels::cudasim::attention_gqa_backward(dev(dqkv), dev(dout), dev(qkv), dev(out), dev(lse), n_head, n_kv_head, s);
}

struct TraceContext : ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo& t) override {
    ::cudasim::set_trace_context(std::string(t.test_suite_name()) + "." + t.name());
  }
  void OnTestEnd(const ::testing::TestInfo&) override { ::cudasim::set_trace_context(""); }
};
const bool g_listener = (::testing::UnitTest::GetInstance()->listeners().Append(new TraceContext), true);

}  // namespace

const BackendUnderTest& backend_under_test() {
  static const BackendUnderTest b{"cudasim", true,      true,      ::cudasim::race_check_mode(), Device::kCpu,
                                  &kernels::cudasim::kOps, &mma_tile, &mma_chain,
                                  &gqa_forward,            &gqa_backward};
  return b;
}

}  // namespace kernels::test
