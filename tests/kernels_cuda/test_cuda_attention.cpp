// tests/kernels_cuda/test_cuda_attention.cpp
// CUDA flash-attention kernels vs the CPU reference: out, lse (forward) and dqkv (backward), in
// fp32 (1e-5) and bf16 (1e-2), at GPT-2 shapes (hs 64) and at head sizes and sequence lengths that
// are not multiples of the tiles (hs 16, 80, 128; T 1, 65, 100), and every class of head size the
// dispatcher pads to (32, 64, 128) with sizes on both sides of each boundary. Causality is checked
// directly. Skip without a GPU; on the simulator the GPT-2-sized cases shrink to a shorter T.
// bf16/fp16 cases at head size 64 or 128 run the tensor-core kernels (attention.cu's dispatch;
// their own tests against the fp64 reference: test_cuda_flash_attention.cpp).
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

const Stream kStream{};

void check_attention(DType dt, int64_t B, int64_t T, int64_t C, int64_t NH) {
  const std::string shape = fmt("B%lld T%lld C%lld NH%lld", (long long)B, (long long)T, (long long)C, (long long)NH);
  TypedTensor qkv(dt, {B, T, 3 * C}, randn(B * T * 3 * C, 60)), dout(dt, {B, T, C}, randn(B * T * C, 61));
  TypedTensor out(dt, {B, T, C}), lse(DType::F32, {B, NH, T});
  GpuTensor qkvg(qkv), doutg(dout), outg(dt, {B, T, C}), lseg(DType::F32, {B, NH, T});
  cpu_ops().attention_forward(out.t(), lse.t(), qkv.t(), int(NH), int(NH), Stream::host());
  gpu_ops().attention_forward(outg.t(), lseg.t(), qkvg.t(), int(NH), int(NH), kStream);
  expect_close(outg.get(), out.get(), tol_for(dt), label("attention out", dt, shape));
  expect_close(lseg.get(), lse.get(), 1e-5, label("attention lse", dt, shape));

  // Backward on the CPU's out and lse, so only the backward kernels' error is measured. dqkv
  // starts as garbage: every element must be overwritten.
  TypedTensor dqkv(dt, {B, T, 3 * C});
  TypedTensor garbage(dt, {B, T, 3 * C}, randn(B * T * 3 * C, 62, 100.0));
  GpuTensor dqkvg(garbage), out_in(out), lse_in(lse);
  cpu_ops().attention_backward(dqkv.t(), dout.t(), qkv.t(), out.t(), lse.t(), int(NH), int(NH), Stream::host());
  gpu_ops().attention_backward(dqkvg.t(), doutg.t(), qkvg.t(), out_in.t(), lse_in.t(), int(NH), int(NH), kStream);
  expect_close(dqkvg.get(), dqkv.get(), tol_for(dt), label("attention dqkv", dt, shape));
}

TEST(CudaAttention, MatchesCpuAtGpt2Shapes) {
  KILN_REQUIRE_GPU();
  if (simulated()) {  // GPT-2's head size 64, two query tiles, four key tiles
    check_attention(DType::F32, 2, 128, 192, 3);
    check_attention(DType::BF16, 1, 128, 192, 3);
    return;
  }
  check_attention(DType::F32, 4, 256, 768, 12);
  check_attention(DType::BF16, 4, 256, 768, 12);
  check_attention(DType::BF16, 1, 1024, 768, 12);  // full GPT-2 context
}

// Head sizes 1..128 are padded to D = 32, 64 or 128 (attention.cu, dispatch_head): each class, at
// its edges and inside, with T crossing a query tile (64) and two key tiles (32).
TEST(CudaAttention, EveryHeadSizeTheDispatcherSupports) {
  KILN_REQUIRE_GPU();
  for (int64_t hs : {1, 8, 24, 31, 32, 33, 48, 63, 64, 65, 80, 100, 127, 128}) check_attention(DType::F32, 1, 70, 2 * hs, 2);
  for (int64_t hs : {24, 40, 96}) check_attention(DType::BF16, 2, 33, 3 * hs, 3);
}

TEST(CudaAttention, MatchesCpuAtAwkwardShapes) {
  KILN_REQUIRE_GPU();
  check_attention(DType::F32, 2, 100, 64, 4);   // hs 16, T not a multiple of the tiles
  check_attention(DType::F32, 1, 65, 160, 2);   // hs 80 (padded to 128)
  check_attention(DType::F32, 2, 130, 256, 2);  // hs 128
  check_attention(DType::BF16, 3, 77, 96, 3);   // hs 32
  check_attention(DType::F16, 2, 64, 128, 2);
  check_attention(DType::F32, 2, 1, 64, 1);  // T = 1
}

TEST(CudaAttention, IsCausal) {
  KILN_REQUIRE_GPU();
  // Changing token t's q, k and v must not change any output before t.
  const int64_t B = 1, T = 96, C = 128, NH = 2, t = 70;
  std::vector<double> a = randn(B * T * 3 * C, 63), b = a;
  for (int64_t i = t * 3 * C; i < (t + 1) * 3 * C; ++i) b[size_t(i)] += 1.0;
  TypedTensor qa(DType::F32, {B, T, 3 * C}, a), qb(DType::F32, {B, T, 3 * C}, b);
  GpuTensor ga(qa), gb(qb), oa(DType::F32, {B, T, C}), ob(DType::F32, {B, T, C});
  GpuTensor la(DType::F32, {B, NH, T}), lb(DType::F32, {B, NH, T});
  gpu_ops().attention_forward(oa.t(), la.t(), ga.t(), int(NH), int(NH), kStream);
  gpu_ops().attention_forward(ob.t(), lb.t(), gb.t(), int(NH), int(NH), kStream);
  const std::vector<double> va = oa.get(), vb = ob.get();
  for (int64_t i = 0; i < t * C; ++i) ASSERT_EQ(va[size_t(i)], vb[size_t(i)]) << "output " << i << " saw the future";
  double changed = 0;
  for (int64_t i = t * C; i < T * C; ++i) changed += std::fabs(va[size_t(i)] - vb[size_t(i)]);
  EXPECT_GT(changed, 0.0);
}

TEST(CudaAttention, IsDeterministic) {
  KILN_REQUIRE_GPU();
  const int64_t B = 2, T = full_or_sim<int64_t>(200, 80), C = full_or_sim<int64_t>(768, 192), NH = C / 64;
  TypedTensor qkv(DType::BF16, {B, T, 3 * C}, randn(B * T * 3 * C, 64)),
      dout(DType::BF16, {B, T, C}, randn(B * T * C, 65));
  GpuTensor q(qkv), d(dout), o(DType::BF16, {B, T, C}), l(DType::F32, {B, NH, T});
  GpuTensor dq1(DType::BF16, {B, T, 3 * C}), dq2(DType::BF16, {B, T, 3 * C});
  gpu_ops().attention_forward(o.t(), l.t(), q.t(), int(NH), int(NH), kStream);
  gpu_ops().attention_backward(dq1.t(), d.t(), q.t(), o.t(), l.t(), int(NH), int(NH), kStream);
  gpu_ops().attention_backward(dq2.t(), d.t(), q.t(), o.t(), l.t(), int(NH), int(NH), kStream);
  EXPECT_EQ(dq1.get(), dq2.get());
}

}  // namespace
}  // namespace kernels::test

namespace kernels::test {
namespace {

// The KV-cache kernel (generation) against the CPU reference: a prompt, then single tokens.
void check_cached(DType dt, int64_t C, int64_t NH, int64_t maxT, int64_t prompt, int64_t steps) {
  const std::string shape = fmt("C%lld NH%lld maxT%lld", (long long)C, (long long)NH, (long long)maxT);
  TypedTensor kc(dt, {maxT, C}), vc(dt, {maxT, C});
  GpuTensor kcg(kc), vcg(vc);
  for (int64_t pos = 0, call = 0; pos < prompt + steps; ++call) {
    const int64_t n = call == 0 ? prompt : 1;
    TypedTensor qkv(dt, {n, 3 * C}, randn(n * 3 * C, 70 + uint64_t(call))), out(dt, {n, C});
    GpuTensor qkvg(qkv), outg(dt, {n, C});
    cpu_ops().attention_cached_forward(out.t(), qkv.t(), kc.t(), vc.t(), int(pos), int(NH), int(NH), Stream::host());
    gpu_ops().attention_cached_forward(outg.t(), qkvg.t(), kcg.t(), vcg.t(), int(pos), int(NH), int(NH), kStream);
    expect_close(outg.get(), out.get(), tol_for(dt), label("attention_cached out", dt, shape));
    pos += n;
  }
  expect_close(kcg.get(), kc.get(), 0.0, label("attention_cached k_cache", dt, shape));
}

TEST(CudaAttentionCached, MatchesCpu) {
  KILN_REQUIRE_GPU();
  if (simulated()) {
    check_cached(DType::F32, 192, 3, 256, 40, 8);
    check_cached(DType::BF16, 192, 3, 256, 5, 12);
  } else {
    check_cached(DType::F32, 768, 12, 1024, 100, 20);
    check_cached(DType::BF16, 768, 12, 1024, 5, 40);
  }
  check_cached(DType::F32, 96, 3, 40, 1, 39);  // to the last row of the cache
}

}  // namespace
}  // namespace kernels::test
