// tests/kernels_cuda/test_cudasim_table.cpp
// The `cudasim` op table as a whole (test_kernels_cudasim only): every entry set, host tensors in
// and device-marked tensors refused, the CUDA backend's argument checks unchanged under the
// simulator, matmul's second bias path (a plain GEMM plus add_bias_kernel, taken when cuBLASLt
// offers no fused-bias algorithm) against the CPU reference, and the device-side checks of token
// and target ids (__trap on a GPU) reported with kernel, block and thread.
#include <cstring>

#include "kernels/cudasim/cublaslt.h"
#include "kernels/cudasim/launch.h"
#include "kernels/cudasim/ops_cudasim.h"
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

TEST(CudasimTable, EveryEntryIsSet) {
  const Ops& ops = cudasim::kOps;
  EXPECT_STREQ(ops.name, "cudasim");
  const auto* begin = reinterpret_cast<const char*>(&ops) + sizeof(const char*);
  const auto* end = reinterpret_cast<const char*>(&ops) + sizeof(Ops);
  int index = 0;
  for (const char* p = begin; p < end; p += sizeof(void*), ++index) {
    void* fn = nullptr;
    std::memcpy(&fn, p, sizeof(void*));
    EXPECT_NE(fn, nullptr) << "entry " << index << " of kernels::cudasim::kOps is null";
  }
}

Tensor host(DType dt, Shape s) {
  static double dummy[64];
  Tensor t;
  t.data = dummy;
  t.dtype = dt;
  t.shape = s;
  return t;
}

TEST(CudasimTableDeathTest, ArgumentChecksFailClearly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Ops& ops = cudasim::kOps;
  Tensor dev = host(DType::F32, {4});
  dev.device = Device::kCuda;
  EXPECT_DEATH(ops.gelu_forward(host(DType::F32, {4}), dev, {}), "works on host tensors");
  EXPECT_DEATH(ops.residual_forward(host(DType::F64, {4}), host(DType::F64, {4}), host(DType::F64, {4}), {}),
               "fp64 runs only on the CPU backend");
  EXPECT_DEATH(ops.residual_forward(host(DType::F32, {4}), host(DType::F32, {4}), host(DType::BF16, {4}), {}),
               "activations and weights share one dtype");
  EXPECT_DEATH(ops.matmul_forward(host(DType::F32, {2, 3}), host(DType::F32, {2, 4}), host(DType::F32, {3, 5}),
                                  Tensor{}, {}),
               "does not take IC=4");
  EXPECT_DEATH(ops.attention_forward(host(DType::F32, {1, 2, 256}), host(DType::F32, {1, 1, 2}),
                                     host(DType::F32, {1, 2, 768}), 1, 1, {}),
               "exceeds the CUDA kernel's maximum of 128");
}

// cuBLASLt may have no algorithm with the fused bias for a type/alignment; matmul.cu then runs a
// plain GEMM and add_bias_kernel. The stand-in can be told to refuse the epilogue.
TEST(CudasimTable, MatmulBiasWithoutFusedEpilogue) {
  const int64_t N = 37, IC = 24, OC = 40;
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    TypedTensor inp(dt, {N, IC}, randn(N * IC, 80)), w(dt, {OC, IC}, randn(OC * IC, 81, 0.2)),
        b(dt, {OC}, randn(OC, 82)), out(dt, {N, OC});
    cpu_ops().matmul_forward(out.t(), inp.t(), w.t(), b.t(), Stream::host());
    GpuTensor inpg(inp), wg(w), bg(b), outg(dt, {N, OC});
    const long long launches = ::cudasim::stats().launches, gemms = ::cudasim::cublaslt_matmuls();
    ::cudasim::set_cublaslt_bias_epilogue(false);
    gpu_ops().matmul_forward(outg.t(), inpg.t(), wg.t(), bg.t(), {});
    ::cudasim::set_cublaslt_bias_epilogue(true);
    EXPECT_EQ(::cudasim::cublaslt_matmuls(), gemms + 1);
    EXPECT_EQ(::cudasim::stats().launches, launches + 1) << "add_bias_kernel did not run";
    // fp32: one rounding as on the CPU. bf16/fp16: the GEMM's output is rounded, then the bias sum.
    expect_close(outg.get(), out.get(), tol_for(dt), label("matmul out, separate bias kernel", dt, "N37 IC24 OC40"));
  }
}

// A negative token id and a target beyond the real vocabulary trap on the device; the simulator
// names the kernel, block and thread that trapped (on a GPU: a launch failure at the next sync).
TEST(CudasimTable, BadIdsTrapNamingKernelBlockAndThread) {
  const int64_t B = 2, T = 5, C = 8, V = 16;
  TypedTensor wte(DType::F32, {V, C}, randn(V * C, 83)), out(DType::F32, {B, T, C});
  std::vector<int32_t> tok(size_t(B * T), 3);
  tok[7] = -2;  // position 7: block 0 of the grid-stride loop, thread 7 * C (its first channel)
  try {
    gpu_ops().embedding_forward(out.t(), view(tok, {B, T}), wte.t(), Tensor{}, 0, {});
    ADD_FAILURE() << "a negative token id did not trap";
  } catch (const ::cudasim::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("kernel embedding_forward_kernel<float>, block (0,0,0), thread (56,0,0): __trap()"),
              std::string::npos) << msg;
  }
  TypedTensor logits(DType::F32, {3, V}, randn(3 * V, 84)), losses(DType::F32, {3});
  std::vector<int32_t> tgt = {1, 15, 2};
  try {
    gpu_ops().softmax_xent(losses.t(), Tensor{}, logits.t(), view(tgt, {3}), 12, 1.f, {});  // 15 >= vocab_real
    ADD_FAILURE() << "a target beyond vocab_real did not trap";
  } catch (const ::cudasim::Error& e) {
    EXPECT_NE(std::string(e.what()).find("kernel softmax_xent_kernel<float>, block (1,0,0), thread (0,0,0): __trap()"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kernels::test
