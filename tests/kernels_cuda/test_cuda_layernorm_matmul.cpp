// tests/kernels_cuda/test_cuda_layernorm_matmul.cpp
// CUDA vs CPU reference for LayerNorm (forward: out, mean, rstd; backward: dx accumulated,
// dweight/dbias accumulated) and the cuBLASLt linear layer (forward with and without the fused
// bias; backward dinp, dweight (+=), dbias (+=)), in fp32 (1e-5) and bf16 (1e-2, with fp32
// parameter grads as the model uses them). The residual add fused into LayerNorm's forward against
// the CPU's unfused residual_forward + layernorm_forward, out of place and in place. GPT-2 124M shapes plus awkward ones. Skip without a GPU;
// on the simulator the GPT-2 shapes keep their width but have fewer rows (its GEMM is a plain loop).
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

const Stream kStream{};

void check_layernorm(DType dt, DType grad_dt, int64_t N, int64_t C) {
  const std::string shape = fmt("N%lld C%lld grads %s", (long long)N, (long long)C, dtype_name(grad_dt));
  TypedTensor x(dt, {N, C}, randn(N * C, 30, 2.0, 0.5)), w(dt, {C}, randn(C, 31, 0.2, 1.0)),
      b(dt, {C}, randn(C, 32, 0.1));
  TypedTensor out(dt, {N, C}), mean(DType::F32, {N}), rstd(DType::F32, {N});
  GpuTensor xg(x), wg(w), bg(b), outg(dt, {N, C}), meang(DType::F32, {N}), rstdg(DType::F32, {N});
  cpu_ops().layernorm_forward(out.t(), mean.t(), rstd.t(), x.t(), w.t(), b.t(), Stream::host());
  gpu_ops().layernorm_forward(outg.t(), meang.t(), rstdg.t(), xg.t(), wg.t(), bg.t(), kStream);
  expect_close(outg.get(), out.get(), tol_for(dt), label("layernorm out", dt, shape));
  expect_close(meang.get(), mean.get(), 1e-5, label("layernorm mean", dt, shape));
  expect_close(rstdg.get(), rstd.get(), 1e-5, label("layernorm rstd", dt, shape));

  // Backward from the CPU's saved statistics, into non-zero gradients (all three accumulate).
  TypedTensor d(dt, {N, C}, randn(N * C, 33)), dx(dt, {N, C}, randn(N * C, 34));
  TypedTensor dw(grad_dt, {C}, randn(C, 35)), db(grad_dt, {C}, randn(C, 36));
  GpuTensor dg(d), dxg(dx), dwg(dw), dbg(db), mean_in(mean), rstd_in(rstd);
  cpu_ops().layernorm_backward(dx.t(), dw.t(), db.t(), d.t(), x.t(), w.t(), mean.t(), rstd.t(), Stream::host());
  gpu_ops().layernorm_backward(dxg.t(), dwg.t(), dbg.t(), dg.t(), xg.t(), wg.t(), mean_in.t(), rstd_in.t(), kStream);
  expect_close(dxg.get(), dx.get(), tol_for(dt), label("layernorm dx", dt, shape));
  expect_close(dwg.get(), dw.get(), tol_for(grad_dt), label("layernorm dweight", dt, shape));
  expect_close(dbg.get(), db.get(), tol_for(grad_dt), label("layernorm dbias", dt, shape));
}

TEST(CudaLayernorm, MatchesCpuAtGpt2Shapes) {
  KILN_REQUIRE_GPU();
  check_layernorm(DType::F32, DType::F32, full_or_sim(4 * 256, 2 * 64), 768);
  check_layernorm(DType::BF16, DType::F32, full_or_sim(4 * 256, 2 * 64), 768);
}

TEST(CudaLayernorm, MatchesCpuAtAwkwardShapes) {
  KILN_REQUIRE_GPU();
  check_layernorm(DType::F32, DType::F32, 333, 771);   // rows not a multiple of 8, C not of 32
  check_layernorm(DType::BF16, DType::BF16, 257, 96);  // bf16 parameter grads too
  check_layernorm(DType::F16, DType::F32, 100, 1600);
  check_layernorm(DType::F32, DType::F32, 3, 5);
}

// residual_layernorm_forward (GPU) against residual_forward then layernorm_forward (CPU).
void check_residual_layernorm(DType dt, int64_t N, int64_t C) {
  const std::string shape = fmt("N%lld C%lld", (long long)N, (long long)C);
  TypedTensor a(dt, {N, C}, randn(N * C, 60, 2.0, 0.5)), r(dt, {N, C}, randn(N * C, 61)),
      w(dt, {C}, randn(C, 62, 0.2, 1.0)), b(dt, {C}, randn(C, 63, 0.1));
  TypedTensor sum(dt, {N, C}), out(dt, {N, C}), mean(DType::F32, {N}), rstd(DType::F32, {N});
  cpu_ops().residual_forward(sum.t(), a.t(), r.t(), Stream::host());
  cpu_ops().layernorm_forward(out.t(), mean.t(), rstd.t(), sum.t(), w.t(), b.t(), Stream::host());
  GpuTensor ag(a), rg(r), wg(w), bg(b), sumg(dt, {N, C}), outg(dt, {N, C}), meang(DType::F32, {N}),
      rstdg(DType::F32, {N});
  gpu_ops().residual_layernorm_forward(sumg.t(), outg.t(), meang.t(), rstdg.t(), ag.t(), rg.t(), wg.t(), bg.t(),
                                       kStream);
  expect_close(sumg.get(), sum.get(), tol_for(dt), label("residual_layernorm sum", dt, shape));
  expect_close(outg.get(), out.get(), tol_for(dt), label("residual_layernorm out", dt, shape));
  expect_close(meang.get(), mean.get(), 1e-5, label("residual_layernorm mean", dt, shape));
  expect_close(rstdg.get(), rstd.get(), 1e-5, label("residual_layernorm rstd", dt, shape));
  // In place, as the model may call it: the stream (a) replaced by the sum.
  GpuTensor stream_g(a), out2(dt, {N, C});
  gpu_ops().residual_layernorm_forward(stream_g.t(), out2.t(), meang.t(), rstdg.t(), stream_g.t(), rg.t(), wg.t(),
                                       bg.t(), kStream);
  expect_close(stream_g.get(), sum.get(), tol_for(dt), label("residual_layernorm in place sum", dt, shape));
  expect_close(out2.get(), out.get(), tol_for(dt), label("residual_layernorm in place out", dt, shape));
  // The GPU's fused kernel and its own unfused pair: the same arithmetic, the same bits.
  GpuTensor sum_u(dt, {N, C}), out_u(dt, {N, C}), mean_u(DType::F32, {N}), rstd_u(DType::F32, {N});
  gpu_ops().residual_forward(sum_u.t(), ag.t(), rg.t(), kStream);
  gpu_ops().layernorm_forward(out_u.t(), mean_u.t(), rstd_u.t(), sum_u.t(), wg.t(), bg.t(), kStream);
  EXPECT_EQ(outg.get(), out_u.get()) << "fused and unfused GPU LayerNorm differ " << shape;
  EXPECT_EQ(rstdg.get(), rstd_u.get()) << "fused and unfused GPU rstd differ " << shape;
}

TEST(CudaLayernorm, ResidualFusedMatchesCpuUnfused) {
  KILN_REQUIRE_GPU();
  check_residual_layernorm(DType::F32, full_or_sim(4 * 256, 2 * 64), 768);
  check_residual_layernorm(DType::BF16, full_or_sim(4 * 256, 2 * 64), 768);
  check_residual_layernorm(DType::F32, 333, 771);  // rows not a multiple of 8, C not of 32
  check_residual_layernorm(DType::F16, 9, 100);
}

void check_matmul(DType dt, DType grad_dt, int64_t N, int64_t IC, int64_t OC, bool bias, bool with_dinp = true) {
  const std::string shape = fmt("N%lld IC%lld OC%lld%s grads %s", (long long)N, (long long)IC, (long long)OC,
                                bias ? " +bias" : "", dtype_name(grad_dt));
  TypedTensor inp(dt, {N, IC}, randn(N * IC, 40)), w(dt, {OC, IC}, randn(OC * IC, 41, 0.05)),
      b(dt, {OC}, randn(OC, 42));
  TypedTensor out(dt, {N, OC});
  GpuTensor inpg(inp), wg(w), bg(b), outg(dt, {N, OC});
  cpu_ops().matmul_forward(out.t(), inp.t(), w.t(), bias ? b.t() : Tensor{}, Stream::host());
  gpu_ops().matmul_forward(outg.t(), inpg.t(), wg.t(), bias ? bg.t() : Tensor{}, kStream);
  expect_close(outg.get(), out.get(), tol_for(dt), label("matmul out", dt, shape));

  TypedTensor d(dt, {N, OC}, randn(N * OC, 43)), dinp(dt, {N, IC});
  TypedTensor dw(grad_dt, {OC, IC}, randn(OC * IC, 44, 0.1)), db(grad_dt, {OC}, randn(OC, 45));
  GpuTensor dg(d), dinpg(dt, {N, IC}), dwg(dw), dbg(db);
  cpu_ops().matmul_backward(with_dinp ? dinp.t() : Tensor{}, dw.t(), bias ? db.t() : Tensor{}, d.t(), inp.t(), w.t(),
                            Stream::host());
  gpu_ops().matmul_backward(with_dinp ? dinpg.t() : Tensor{}, dwg.t(), bias ? dbg.t() : Tensor{}, dg.t(), inpg.t(),
                            wg.t(), kStream);
  if (with_dinp) expect_close(dinpg.get(), dinp.get(), tol_for(dt), label("matmul dinp", dt, shape));
  expect_close(dwg.get(), dw.get(), tol_for(grad_dt), label("matmul dweight (+=)", dt, shape));
  if (bias) expect_close(dbg.get(), db.get(), tol_for(grad_dt), label("matmul dbias (+=)", dt, shape));
}

TEST(CudaMatmul, MatchesCpuAtGpt2Shapes) {
  KILN_REQUIRE_GPU();
  const int64_t N = full_or_sim(4 * 256, 40), C = full_or_sim(768, 192);
  for (DType dt : {DType::F32, DType::BF16}) {
    check_matmul(dt, DType::F32, N, C, 3 * C, true);  // c_attn
    check_matmul(dt, DType::F32, N, C, 4 * C, true);  // c_fc
    check_matmul(dt, DType::F32, N, 4 * C, C, true);  // mlp c_proj
  }
}

TEST(CudaMatmul, LmHeadWithoutBiasOrFirstLayerDinp) {
  KILN_REQUIRE_GPU();
  // Tied lm_head at a reduced row count: logits (N, V) = lnf (N, C) @ wte (V, C)^T.
  check_matmul(DType::BF16, DType::F32, full_or_sim(256, 16), full_or_sim(768, 96), full_or_sim(50304, 2048), false);
  check_matmul(DType::F32, DType::F32, full_or_sim(64, 8), 96, full_or_sim(50304, 2048), false, /*with_dinp=*/false);
}

TEST(CudaMatmul, MatchesCpuAtAwkwardShapes) {
  KILN_REQUIRE_GPU();
  check_matmul(DType::F32, DType::F32, 333, 45, 97, true);  // odd leading dimensions
  check_matmul(DType::BF16, DType::F32, 333, 200, 104, true);
  check_matmul(DType::BF16, DType::BF16, 130, 64, 48, true);  // bf16 parameter grads
  check_matmul(DType::F16, DType::F32, 200, 128, 256, true);
  check_matmul(DType::F32, DType::F32, 1, 8, 8, true);
}

TEST(CudaMatmul, RowSliceViewsWork) {
  KILN_REQUIRE_GPU();
  // A view that starts mid-buffer (alignment < 256 bytes) must still find a cuBLASLt algorithm.
  const int64_t N = 50, IC = 64, OC = 96;
  TypedTensor inp(DType::BF16, {N + 1, IC}, randn((N + 1) * IC, 50)), w(DType::BF16, {OC, IC}, randn(OC * IC, 51, 0.1));
  GpuTensor inpg(inp), wg(w), outg(DType::BF16, {N, OC});
  TypedTensor out(DType::BF16, {N, OC});
  cpu_ops().matmul_forward(out.t(), inp.t().slice_rows(1, N), w.t(), Tensor{}, Stream::host());
  gpu_ops().matmul_forward(outg.t(), inpg.t().slice_rows(1, N), wg.t(), Tensor{}, kStream);
  expect_close(outg.get(), out.get(), 1e-2, "matmul out, input view offset by one row (128 bytes)");
}

}  // namespace
}  // namespace kernels::test
