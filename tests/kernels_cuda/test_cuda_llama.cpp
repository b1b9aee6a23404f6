// tests/kernels_cuda/test_cuda_llama.cpp
// The Llama ops of the CUDA backend against the CPU reference, fp32 (1e-5) and bf16 (1e-2):
// RMSNorm forward, forward fused with the residual add (also in place), backward (dx and dweight
// accumulate); RoPE forward/backward at large positions (the double-precision angles must agree)
// and head sizes 64 and 128; SwiGLU forward/backward (also in place); grouped-query attention
// forward, backward and cached (NH/NKV = 32/8, 8/2, 6/3, 6/2, 4/2, 4/1 and 4/4; hs 16 to 128) on
// both attention paths: the fp32 CUDA-core kernels and the bf16/fp16 tensor-core kernels. Skip
// without a GPU; simulated, the largest cases shrink.
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

const Stream kStream{};

void check_rmsnorm(DType dt, int64_t N, int64_t C) {
  const std::string shape = fmt("N%lld C%lld", (long long)N, (long long)C);
  const float eps = 1e-5f;
  TypedTensor a(dt, {N, C}, randn(N * C, 700)), b(dt, {N, C}, randn(N * C, 701, 0.5)), w(dt, {C}, randn(C, 702, 0.2, 1.0));
  GpuTensor ag(a), bg(b), wg(w);
  // Plain forward.
  TypedTensor out(dt, {N, C}), rstd(DType::F32, {N});
  GpuTensor outg(dt, {N, C}), rstdg(DType::F32, {N});
  cpu_ops().rmsnorm_forward(out.t(), rstd.t(), a.t(), w.t(), eps, Stream::host());
  gpu_ops().rmsnorm_forward(outg.t(), rstdg.t(), ag.t(), wg.t(), eps, kStream);
  expect_close(outg.get(), out.get(), tol_for(dt), label("rmsnorm out", dt, shape));
  expect_close(rstdg.get(), rstd.get(), 1e-5, label("rmsnorm rstd", dt, shape));
  // Fused with the residual add, out of place and in place (sum replaces a).
  TypedTensor sum(dt, {N, C});
  GpuTensor sumg(dt, {N, C});
  cpu_ops().residual_rmsnorm_forward(sum.t(), out.t(), rstd.t(), a.t(), b.t(), w.t(), eps, Stream::host());
  gpu_ops().residual_rmsnorm_forward(sumg.t(), outg.t(), rstdg.t(), ag.t(), bg.t(), wg.t(), eps, kStream);
  expect_close(sumg.get(), sum.get(), tol_for(dt), label("residual_rmsnorm sum", dt, shape));
  expect_close(outg.get(), out.get(), tol_for(dt), label("residual_rmsnorm out", dt, shape));
  GpuTensor stream_g(a);
  gpu_ops().residual_rmsnorm_forward(stream_g.t(), outg.t(), rstdg.t(), stream_g.t(), bg.t(), wg.t(), eps, kStream);
  expect_close(stream_g.get(), sum.get(), tol_for(dt), label("residual_rmsnorm in place", dt, shape));
  // Backward: dx and dweight accumulate into what is there.
  TypedTensor dout(dt, {N, C}, randn(N * C, 703)), dx(dt, {N, C}, randn(N * C, 704)), dw(DType::F32, {C}, randn(C, 705));
  GpuTensor doutg(dout), dxg(dx), dwg(dw), xg(sum), rstd_in(rstd);
  cpu_ops().rmsnorm_backward(dx.t(), dw.t(), dout.t(), sum.t(), w.t(), rstd.t(), Stream::host());
  gpu_ops().rmsnorm_backward(dxg.t(), dwg.t(), doutg.t(), xg.t(), wg.t(), rstd_in.t(), kStream);
  expect_close(dxg.get(), dx.get(), tol_for(dt), label("rmsnorm dx", dt, shape));
  expect_close(dwg.get(), dw.get(), dt == DType::F32 ? 1e-5 : 1e-3, label("rmsnorm dweight", dt, shape));
}

TEST(CudaLlama, RmsnormMatchesCpu) {
  KILN_REQUIRE_GPU();
  // GPU: the 1B preset's width; simulated: a smaller stand-in (the simulator runs every thread).
  check_rmsnorm(DType::F32, full_or_sim<int64_t>(4 * 256, 64), full_or_sim<int64_t>(2048, 256));
  check_rmsnorm(DType::BF16, full_or_sim<int64_t>(4 * 256, 64), full_or_sim<int64_t>(2048, 256));
  check_rmsnorm(DType::F32, 37, 100);  // channels not a multiple of 32
  check_rmsnorm(DType::F16, 5, 64);
}

void check_rope(DType dt, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t hs, int pos0, float theta) {
  const std::string shape = fmt("B%lld T%lld NH%lld NKV%lld hs%lld pos0 %d", (long long)B, (long long)T, (long long)NH,
                                (long long)NKV, (long long)hs, pos0);
  const int64_t W = (NH + 2 * NKV) * hs;
  TypedTensor x(dt, {B, T, W}, randn(B * T * W, 710));
  GpuTensor xg(x);
  cpu_ops().rope_forward(x.t(), int(NH), int(NKV), pos0, theta, Stream::host());
  gpu_ops().rope_forward(xg.t(), int(NH), int(NKV), pos0, theta, kStream);
  expect_close(xg.get(), x.get(), tol_for(dt), label("rope forward", dt, shape));
  cpu_ops().rope_backward(x.t(), int(NH), int(NKV), pos0, theta, Stream::host());
  gpu_ops().rope_backward(xg.t(), int(NH), int(NKV), pos0, theta, kStream);
  expect_close(xg.get(), x.get(), tol_for(dt), label("rope backward", dt, shape));
}

TEST(CudaLlama, RopeMatchesCpu) {
  KILN_REQUIRE_GPU();
  check_rope(DType::F32, full_or_sim<int64_t>(2, 1), full_or_sim<int64_t>(256, 40), 32, 8, 64, 0, 500000.f);
  check_rope(DType::F32, 1, 64, 4, 1, 128, 4000, 10000.f);  // far positions: angles in double
  check_rope(DType::BF16, 2, 128, 8, 2, 64, 0, 10000.f);
  check_rope(DType::F32, 1, 7, 3, 3, 6, 2, 10000.f);  // hs 6: fewer pairs than a warp
}

void check_swiglu(DType dt, int64_t N, int64_t F) {
  const std::string shape = fmt("N%lld F%lld", (long long)N, (long long)F);
  TypedTensor inp(dt, {N, 2 * F}, randn(N * 2 * F, 720, 2.0)), out(dt, {N, F}), dout(dt, {N, F}, randn(N * F, 721));
  GpuTensor inpg(inp), outg(dt, {N, F}), doutg(dout);
  cpu_ops().swiglu_forward(out.t(), inp.t(), Stream::host());
  gpu_ops().swiglu_forward(outg.t(), inpg.t(), kStream);
  expect_close(outg.get(), out.get(), tol_for(dt), label("swiglu out", dt, shape));
  TypedTensor dinp(dt, {N, 2 * F});
  cpu_ops().swiglu_backward(dinp.t(), dout.t(), inp.t(), Stream::host());
  gpu_ops().swiglu_backward(inpg.t(), doutg.t(), inpg.t(), kStream);  // in place
  expect_close(inpg.get(), dinp.get(), tol_for(dt), label("swiglu dinp (in place)", dt, shape));
}

TEST(CudaLlama, SwigluMatchesCpu) {
  KILN_REQUIRE_GPU();
  check_swiglu(DType::F32, full_or_sim<int64_t>(4 * 256, 64), full_or_sim<int64_t>(8192, 384));
  check_swiglu(DType::BF16, full_or_sim<int64_t>(4 * 256, 64), full_or_sim<int64_t>(8192, 384));
  check_swiglu(DType::F32, 3, 5);
}

void check_gqa(DType dt, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t hs) {
  const std::string shape = fmt("B%lld T%lld NH%lld NKV%lld hs%lld", (long long)B, (long long)T, (long long)NH,
                                (long long)NKV, (long long)hs);
  const int64_t W = (NH + 2 * NKV) * hs, C = NH * hs;
  TypedTensor qkv(dt, {B, T, W}, randn(B * T * W, 730)), dout(dt, {B, T, C}, randn(B * T * C, 731));
  TypedTensor out(dt, {B, T, C}), lse(DType::F32, {B, NH, T});
  GpuTensor qkvg(qkv), doutg(dout), outg(dt, {B, T, C}), lseg(DType::F32, {B, NH, T});
  cpu_ops().attention_forward(out.t(), lse.t(), qkv.t(), int(NH), int(NKV), Stream::host());
  gpu_ops().attention_forward(outg.t(), lseg.t(), qkvg.t(), int(NH), int(NKV), kStream);
  expect_close(outg.get(), out.get(), tol_for(dt), label("gqa attention out", dt, shape));
  expect_close(lseg.get(), lse.get(), 1e-5, label("gqa attention lse", dt, shape));
  TypedTensor dqkv(dt, {B, T, W}), garbage(dt, {B, T, W}, randn(B * T * W, 732, 100.0));
  GpuTensor dqkvg(garbage), out_in(out), lse_in(lse);
  cpu_ops().attention_backward(dqkv.t(), dout.t(), qkv.t(), out.t(), lse.t(), int(NH), int(NKV), Stream::host());
  gpu_ops().attention_backward(dqkvg.t(), doutg.t(), qkvg.t(), out_in.t(), lse_in.t(), int(NH), int(NKV), kStream);
  expect_close(dqkvg.get(), dqkv.get(), tol_for(dt), label("gqa attention dqkv", dt, shape));
}

TEST(CudaLlama, GroupedQueryAttentionMatchesCpu) {
  KILN_REQUIRE_GPU();
  // fp32 (and bf16 at head sizes other than 64/128) run the CUDA-core kernels, bf16/fp16 at 64/128
  // the tensor-core flash kernels; both grouped-query. Simulated, the CUDA-core cases take T = 40
  // (one query tile, a full and a partial key tile: a query tile costs 64 rows however few are
  // real, and the simulator runs them all); tiles crossed at other T: CudaAttention.*.
  const auto t = [](int64_t gpu) { return full_or_sim<int64_t>(gpu, 40); };
  check_gqa(DType::F32, 2, t(256), 8, 2, 64);
  if (!simulated()) check_gqa(DType::BF16, 2, 256, 32, 8, 64);  // the 1B preset's heads (GPU only: slow simulated)
  check_gqa(DType::BF16, 1, 70, 4, 2, 64);   // grouped-query on the flash kernels, T past one tile
  check_gqa(DType::F16, 1, 65, 4, 1, 128);
  check_gqa(DType::F32, 1, t(100), 4, 1, 128);  // multi-query, T not a multiple of the tiles
  check_gqa(DType::F32, 2, t(65), 6, 3, 16);
  check_gqa(DType::BF16, 2, t(65), 6, 3, 16);   // bf16 on the CUDA-core kernels (hs 16)
  check_gqa(DType::F32, 1, t(70), 6, 2, 40);    // group of 3, hs padded to 64
  check_gqa(DType::F32, 2, t(65), 4, 4, 16);    // multi-head through the same entry point
}

TEST(CudaLlama, CachedGroupedQueryAttentionMatchesCpu) {
  KILN_REQUIRE_GPU();
  for (const DType dt : {DType::F32, DType::BF16}) {
    const int64_t T = full_or_sim<int64_t>(40, 24), NH = 8, NKV = 2, hs = 64, W = (NH + 2 * NKV) * hs, C = NH * hs,
                  KC = NKV * hs;
    const std::vector<double> all = randn(T * W, 740);
    TypedTensor kc(dt, {T, KC}), vc(dt, {T, KC});
    GpuTensor kcg(dt, {T, KC}), vcg(dt, {T, KC});
    for (int64_t pos = 0, n = 7; pos < T; pos += n, n = 1 + pos % 3) {
      n = std::min(n, T - pos);
      const std::vector<double> rows(all.begin() + pos * W, all.begin() + (pos + n) * W);
      TypedTensor q(dt, {n, W}, rows), out(dt, {n, C});
      GpuTensor qg(q), outg(dt, {n, C});
      cpu_ops().attention_cached_forward(out.t(), q.t(), kc.t(), vc.t(), int(pos), int(NH), int(NKV), Stream::host());
      gpu_ops().attention_cached_forward(outg.t(), qg.t(), kcg.t(), vcg.t(), int(pos), int(NH), int(NKV), kStream);
      expect_close(outg.get(), out.get(), tol_for(dt), label("gqa cached out", dt, fmt("pos %lld n %lld", (long long)pos,
                                                                                       (long long)n)));
    }
    expect_close(kcg.get(), kc.get(), 0.0, label("gqa k cache", dt, fmt("T%lld", (long long)T)));
    expect_close(vcg.get(), vc.get(), 0.0, label("gqa v cache", dt, fmt("T%lld", (long long)T)));
  }
}

}  // namespace
}  // namespace kernels::test
