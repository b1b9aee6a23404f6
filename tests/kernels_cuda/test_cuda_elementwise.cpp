// tests/kernels_cuda/test_cuda_elementwise.cpp
// CUDA vs CPU reference for the elementwise and small ops: GELU forward/backward, residual add,
// cast (every float dtype pair), zero, sum_squares, AdamW (bit-exact by design) and the embedding
// (forward; backward bit-exact in fp32, including a vocab-parallel shard). Fresh random inputs,
// fp32 (1e-5) and bf16 (1e-2); all skip without a GPU. GPT-2-sized tensors shrink on the simulator.
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

const Stream kStream{};  // the legacy default stream, as the model uses

TEST(CudaElementwise, GeluForwardBackwardMatchCpu) {
  KILN_REQUIRE_GPU();
  const int64_t B = 4, T = full_or_sim<int64_t>(128, 4), F = 3072;  // an MLP activation of GPT-2 124M
  for (DType dt : {DType::F32, DType::BF16}) {
    TypedTensor x(dt, {B, T, F}, randn(B * T * F, 1, 2.0)), d(dt, {B, T, F}, randn(B * T * F, 2));
    TypedTensor yc(dt, {B, T, F}), dxc(dt, {B, T, F});
    cpu_ops().gelu_forward(yc.t(), x.t(), Stream::host());
    cpu_ops().gelu_backward(dxc.t(), d.t(), x.t(), Stream::host());
    GpuTensor xg(x), dg(d), yg(dt, {B, T, F}), dxg(dt, {B, T, F});
    gpu_ops().gelu_forward(yg.t(), xg.t(), kStream);
    gpu_ops().gelu_backward(dxg.t(), dg.t(), xg.t(), kStream);
    const std::string shape = fmt("(4,%lld,3072)", (long long)T);
    expect_close(yg.get(), yc.get(), tol_for(dt), label("gelu_forward", dt, shape));
    expect_close(dxg.get(), dxc.get(), tol_for(dt), label("gelu_backward", dt, shape));
    // In place (dinp aliases dout), as the model may call it.
    gpu_ops().gelu_backward(dg.t(), dg.t(), xg.t(), kStream);
    expect_close(dg.get(), dxc.get(), tol_for(dt), label("gelu_backward in place", dt, shape));
  }
}

TEST(CudaElementwise, ResidualMatchesCpuExactly) {
  KILN_REQUIRE_GPU();
  const int64_t n = full_or_sim<int64_t>(4 * 100 * 768, 4 * 10 * 96) + 13;  // not a multiple of the block size
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    TypedTensor a(dt, {n}, randn(n, 3)), b(dt, {n}, randn(n, 4)), oc(dt, {n});
    cpu_ops().residual_forward(oc.t(), a.t(), b.t(), Stream::host());
    GpuTensor ag(a), bg(b), og(dt, {n});
    gpu_ops().residual_forward(og.t(), ag.t(), bg.t(), kStream);
    expect_close(og.get(), oc.get(), 0.0,
                 label("residual_forward", dt, fmt("%lld", (long long)n)));  // one rounding each
  }
}

TEST(CudaElementwise, CastEveryPairRoundsLikeCpu) {
  KILN_REQUIRE_GPU();
  const int64_t n = full_or_sim<int64_t>(100003, 10007);
  // Wide range, including values that overflow fp16 and values near bf16/fp16 ties.
  std::vector<double> v = randn(n, 5, 30.0);
  v[0] = 1e6;
  v[1] = -7e4;
  v[2] = 1.0 + 1.0 / 256;  // a bf16 tie
  v[3] = 3e-7;             // fp16 subnormal
  for (DType src : {DType::F32, DType::BF16, DType::F16}) {
    for (DType dst : {DType::F32, DType::BF16, DType::F16}) {
      TypedTensor s(src, {n}, v), dc(dst, {n});
      cpu_ops().cast(dc.t(), s.t(), Stream::host());
      GpuTensor sg(s), dg(dst, {n});
      gpu_ops().cast(dg.t(), sg.t(), kStream);
      const std::vector<double> got = dg.get(), want = dc.get();
      int64_t mismatches = 0;
      for (int64_t i = 0; i < n; ++i)
        if (!(got[size_t(i)] == want[size_t(i)])) ++mismatches;  // inf == inf counts as equal
      EXPECT_EQ(mismatches, 0) << dtype_name(src) << " -> " << dtype_name(dst);
    }
  }
}

TEST(CudaElementwise, ZeroClearsWholeTensor) {
  KILN_REQUIRE_GPU();
  TypedTensor x(DType::BF16, {1000, 77}, randn(77000, 6));
  GpuTensor g(x);
  gpu_ops().zero(g.t(), kStream);
  for (double v : g.get()) ASSERT_EQ(v, 0.0);
  gpu_ops().zero(Tensor{}, kStream);  // empty: no-op
}

TEST(CudaElementwise, SumSquaresMatchesCpuAndAccumulates) {
  KILN_REQUIRE_GPU();
  for (DType dt : {DType::F32, DType::BF16}) {
    // A slice of a GPT-2 124M gradient arena. On the simulator: a few blocks in fp32, and in bf16
    // just past 1024 blocks x 4096 elements, where the partial-sum grid stops growing and threads
    // stride (not in the race-check build, where 262144 threads take minutes).
    const bool big = dt == DType::BF16 && !backend_under_test().race_check;
    const int64_t n = full_or_sim<int64_t>(124'000'000 / 16, big ? 1024 * 4096 + 5 * 256 : 100000) + 7;
    TypedTensor x(dt, {n}, randn(n, 7, 0.01));
    std::vector<float> oc{0.25f};
    cpu_ops().sum_squares(view(oc, {1}), x.t(), Stream::host());
    TypedTensor start(DType::F32, {1}, {0.25});
    GpuTensor xg(x), og(start);
    gpu_ops().sum_squares(og.t(), xg.t(), kStream);
    expect_close(og.get(), {double(oc[0])}, 1e-6, label("sum_squares", dt, fmt("%lld", (long long)n)));
    // Deterministic: the same input gives the same bits.
    GpuTensor og2(start);
    gpu_ops().sum_squares(og2.t(), xg.t(), kStream);
    EXPECT_EQ(og.get(), og2.get());
  }
}

TEST(CudaElementwise, AdamWMatchesCpu) {
  KILN_REQUIRE_GPU();
  const int64_t n = full_or_sim<int64_t>(768 * 3072, 96 * 384) + 5;
  std::vector<double> p = randn(n, 10, 0.02), g = randn(n, 11, 1e-3), m = randn(n, 12, 1e-4), v = randn(n, 13, 1e-4);
  for (double& x : v) x = x * x;
  for (DType compute : {DType::F32, DType::BF16, DType::F16}) {
    AdamWArgs a;
    a.lr = 6e-4f;
    a.weight_decay = 0.1f;
    a.grad_scale = 0.8f;
    a.step = 3;
    TypedTensor pc(DType::F32, {n}, p), gc(DType::F32, {n}, g), mc(DType::F32, {n}, m), vc(DType::F32, {n}, v);
    TypedTensor cc(compute, {n});
    GpuTensor pg(pc), gg(gc), mg(mc), vg(vc), cg(compute, {n});
    cpu_ops().adamw_update(pc.t(), cc.t(), gc.t(), mc.t(), vc.t(), a, Stream::host());
    gpu_ops().adamw_update(pg.t(), cg.t(), gg.t(), mg.t(), vg.t(), a, kStream);
    // The CPU's fp32 AdamW is the vectorised one (kernels/cpu/simd), which may fuse multiply-adds
    // where the SIMD level has FMA (docs/CPU.md), so the kernel matches it to 1e-7 relative, not
    // bit for bit (the two agreed bit for bit against the old scalar loop).
    expect_close(pg.get(), pc.get(), 1e-7, label("adamw master", compute, fmt("%lld", (long long)n)));
    expect_close(mg.get(), mc.get(), 1e-7, label("adamw m", compute, fmt("%lld", (long long)n)));
    expect_close(vg.get(), vc.get(), 1e-7, label("adamw v", compute, fmt("%lld", (long long)n)));
    expect_close(cg.get(), cc.get(), compute == DType::F32 ? 1e-7 : 1e-3, label("adamw compute copy", compute, ""));
  }
}

// Tokens with many repeats, so dwte rows collect several positions.
std::vector<int32_t> repeated_tokens(int64_t n, int64_t V, uint64_t seed) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[size_t(i)] = int32_t(uniform01(seed, uint64_t(i)) * (i % 3 == 0 ? 50 : V));
  return t;
}

TEST(CudaElementwise, EmbeddingMatchesCpu) {
  KILN_REQUIRE_GPU();
  const int64_t B = 4, T = full_or_sim<int64_t>(256, 32), C = full_or_sim<int64_t>(768, 96),
                V = full_or_sim<int64_t>(50304, 2048), maxT = full_or_sim<int64_t>(1024, 64);
  std::vector<int32_t> tok = repeated_tokens(B * T, V - 47, 20);
  for (DType dt : {DType::F32, DType::BF16}) {
    // Whole vocabulary (tp = 1), and the second half as a vocab-parallel shard without positions.
    for (int shard = 0; shard < 2; ++shard) {
      const int64_t start = shard ? V / 2 : 0, Vs = shard ? V / 2 : V;
      const std::string shape =
          fmt("B4 T%lld C%lld rows [%lld, +%lld)", (long long)T, (long long)C, (long long)start, (long long)Vs);
      TypedTensor wte(dt, {Vs, C}, randn(Vs * C, 21, 0.02)), wpe(dt, {maxT, C}, randn(maxT * C, 22, 0.01));
      TypedTensor oc(dt, {B, T, C});
      const Tensor wpe_c = shard ? Tensor{} : wpe.t();
      cpu_ops().embedding_forward(oc.t(), view(tok, {B, T}), wte.t(), wpe_c, int(start), Stream::host());
      GpuTensor wteg(wte), wpeg(wpe), og(dt, {B, T, C});
      GpuInts tokg(tok, {B, T});
      gpu_ops().embedding_forward(og.t(), tokg.t(), wteg.t(), shard ? Tensor{} : wpeg.t(), int(start), kStream);
      expect_close(og.get(), oc.get(), 0.0, label("embedding_forward", dt, shape));

      TypedTensor d(dt, {B, T, C}, randn(B * T * C, 23));
      TypedTensor dwte(DType::F32, {Vs, C}, randn(Vs * C, 24, 1e-3)),
          dwpe(DType::F32, {maxT, C}, randn(maxT * C, 25, 1e-3));
      GpuTensor dg(d), dwteg(dwte), dwpeg(dwpe);  // copies taken before the CPU accumulates
      cpu_ops().embedding_backward(dwte.t(), shard ? Tensor{} : dwpe.t(), d.t(), view(tok, {B, T}), int(start),
                                   Stream::host());
      gpu_ops().embedding_backward(dwteg.t(), shard ? Tensor{} : dwpeg.t(), dg.t(), tokg.t(), int(start), kStream);
      // Same summation order as the CPU (see embedding.cu): bit-identical fp32 gradients.
      expect_close(dwteg.get(), dwte.get(), 0.0, label("embedding_backward dwte", dt, shape));
      expect_close(dwpeg.get(), dwpe.get(), 0.0, label("embedding_backward dwpe", dt, shape));
    }
  }
}

}  // namespace
}  // namespace kernels::test
