// tests/kernels_cuda/test_cuda_flash_attention.cpp
// The tensor-core flash attention (kernels/cuda/flash_attention.h) against the CPU reference run
// in fp64 on the same (bf16/fp16-rounded) inputs: out, lse and dqkv, at head sizes 64 and 128,
// with T = one tile + 1 and two tiles - 3 (tile = 64 rows), through the attention op and through
// the grouped-query entry points (n_head 4 : n_kv_head 2, against the reference with the kv heads
// repeated). Causal masking at the tile edge is checked directly (forward and backward), and the
// dispatch (bf16 head size 64 -> the flash kernels) from the simulator's launch trace.
//
// Error measure: max |got - want| / max |want| over the whole tensor (the worst element against
// the tensor's scale). Bounds: 1e-2 for bf16/fp16 outputs (the bf16 tolerance), 1e-5 for
// the fp32 lse.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

const Stream kStream{};
constexpr int64_t kTile = 64;  // query rows per block and keys per tile (flash_attention.cu)

double max_rel_err(const std::vector<double>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    err = std::max(err, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  if (!std::isfinite(err)) return err;
  return scale == 0 ? err : err / scale;
}

void expect_max_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                      const std::string& what) {
  const double err = max_rel_err(got, want);
  std::printf("[%s-vs-fp64] %-52s max_err/max_ref %.3e (tol %.0e)\n", backend_under_test().name, what.c_str(), err,
              tol);
  EXPECT_LE(err, tol) << what;
  EXPECT_TRUE(std::isfinite(err)) << what;
}

// values rounded to dt, widened back (what the kernels see).
std::vector<double> rounded(DType dt, Shape s, const std::vector<double>& v) { return TypedTensor(dt, s, v).get(); }

// The reference (fp64 CPU op, n_head heads) for a GQA qkv: kv head j repeated for query heads
// j*group .. j*group+group-1, so qkv_full = (B,T,3*NH*hs) in the op's q|k|v layout.
std::vector<double> repeat_kv(const std::vector<double>& gqa, int64_t BT, int64_t NH, int64_t NKV, int64_t hs) {
  const int64_t W = (NH + 2 * NKV) * hs, C = NH * hs, group = NH / NKV;
  std::vector<double> full(size_t(BT * 3 * C));
  for (int64_t r = 0; r < BT; ++r)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t d = 0; d < hs; ++d) {
        const int64_t kv = h / group;
        full[size_t(r * 3 * C + h * hs + d)] = gqa[size_t(r * W + h * hs + d)];
        full[size_t(r * 3 * C + C + h * hs + d)] = gqa[size_t(r * W + NH * hs + kv * hs + d)];
        full[size_t(r * 3 * C + 2 * C + h * hs + d)] = gqa[size_t(r * W + (NH + NKV) * hs + kv * hs + d)];
      }
  return full;
}

// The gradient for a GQA qkv from the reference's full dqkv: dk, dv of kv head j = the sum over
// the query heads that read it.
std::vector<double> sum_kv(const std::vector<double>& full, int64_t BT, int64_t NH, int64_t NKV, int64_t hs) {
  const int64_t W = (NH + 2 * NKV) * hs, C = NH * hs, group = NH / NKV;
  std::vector<double> gqa(size_t(BT * W), 0.0);
  for (int64_t r = 0; r < BT; ++r)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t d = 0; d < hs; ++d) {
        const int64_t kv = h / group;
        gqa[size_t(r * W + h * hs + d)] = full[size_t(r * 3 * C + h * hs + d)];
        gqa[size_t(r * W + NH * hs + kv * hs + d)] += full[size_t(r * 3 * C + C + h * hs + d)];
        gqa[size_t(r * W + (NH + NKV) * hs + kv * hs + d)] += full[size_t(r * 3 * C + 2 * C + h * hs + d)];
      }
  return gqa;
}

// Forward and backward of attention with NH query heads and NKV kv heads of size hs in dt, on the
// GPU (through the op when NKV == NH and `via_op`, else the GQA entry points) against the fp64
// CPU reference on the same rounded inputs. Backward gets the reference's out (rounded to dt) and
// lse, so only the backward kernels' error is measured.
void check_flash(DType dt, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t hs, bool via_op, uint64_t seed) {
  const std::string shape = fmt("B%lld T%lld NH%lld NKV%lld hs%lld%s", (long long)B, (long long)T, (long long)NH,
                                (long long)NKV, (long long)hs, via_op ? " (op)" : "");
  const int64_t C = NH * hs, W = (NH + 2 * NKV) * hs, BT = B * T;
  // Scores with a standard deviation of ~2.2: sharp rows, so the online softmax rescales often.
  const std::vector<double> qkv_v = rounded(dt, {B, T, W}, randn(BT * W, seed, 1.5));
  const std::vector<double> dout_v = rounded(dt, {B, T, C}, randn(BT * C, seed + 1));

  // Reference, fp64.
  TypedTensor qkv_ref(DType::F64, {B, T, 3 * C}, repeat_kv(qkv_v, BT, NH, NKV, hs));
  TypedTensor dout_ref(DType::F64, {B, T, C}, dout_v), out_ref(DType::F64, {B, T, C}), lse_ref(DType::F64, {B, NH, T});
  cpu_ops().attention_forward(out_ref.t(), lse_ref.t(), qkv_ref.t(), int(NH), int(NH), Stream::host());
  const std::vector<double> out_rounded = rounded(dt, {B, T, C}, out_ref.get());
  TypedTensor out_in_ref(DType::F64, {B, T, C}, out_rounded), dqkv_ref(DType::F64, {B, T, 3 * C});
  cpu_ops().attention_backward(dqkv_ref.t(), dout_ref.t(), qkv_ref.t(), out_in_ref.t(), lse_ref.t(), int(NH),
                               int(NH), Stream::host());

  // GPU.
  const BackendUnderTest& be = backend_under_test();
  TypedTensor qkv(dt, {B, T, W}, qkv_v), dout(dt, {B, T, C}, dout_v), out_in(dt, {B, T, C}, out_rounded);
  TypedTensor lse_in(DType::F32, {B, NH, T}, lse_ref.get());
  TypedTensor garbage(dt, {B, T, W}, randn(BT * W, seed + 2, 100.0));  // every element must be overwritten
  GpuTensor qkvg(qkv), doutg(dout), out_ing(out_in), lse_ing(lse_in), dqkvg(garbage);
  GpuTensor outg(dt, {B, T, C}), lseg(DType::F32, {B, NH, T});
  if (via_op) {
    gpu_ops().attention_forward(outg.t(), lseg.t(), qkvg.t(), int(NH), int(NH), kStream);
    gpu_ops().attention_backward(dqkvg.t(), doutg.t(), qkvg.t(), out_ing.t(), lse_ing.t(), int(NH), int(NH), kStream);
  } else {
    be.attention_gqa_forward(outg.t(), lseg.t(), qkvg.t(), int(NH), int(NKV), kStream);
    be.attention_gqa_backward(dqkvg.t(), doutg.t(), qkvg.t(), out_ing.t(), lse_ing.t(), int(NH), int(NKV), kStream);
  }
  expect_max_close(outg.get(), out_ref.get(), 1e-2, label("flash out", dt, shape));
  expect_max_close(lseg.get(), lse_ref.get(), 1e-5, label("flash lse", dt, shape));
  expect_max_close(dqkvg.get(), sum_kv(dqkv_ref.get(), BT, NH, NKV, hs), 1e-2, label("flash dqkv", dt, shape));
}

TEST(CudaFlashAttention, Head64MatchesFp64Reference) {
  KILN_REQUIRE_GPU();
  check_flash(DType::BF16, 1, kTile + 1, 2, 2, 64, true, 200);      // one row into the second tile
  check_flash(DType::BF16, 2, 2 * kTile - 3, 2, 2, 64, true, 210);  // the second tile 3 rows short
  check_flash(DType::F16, 1, 2 * kTile, 1, 1, 64, true, 220);       // whole tiles, fp16
  if (!simulated()) check_flash(DType::BF16, 2, 1024, 12, 12, 64, true, 230);  // GPT-2 124M's attention
}

TEST(CudaFlashAttention, Head128MatchesFp64Reference) {
  KILN_REQUIRE_GPU();
  check_flash(DType::BF16, 1, kTile + 1, 1, 1, 128, true, 300);
  check_flash(DType::BF16, 1, 2 * kTile - 3, 2, 2, 128, true, 310);
  check_flash(DType::F16, 1, kTile + 1, 1, 1, 128, true, 320);
  if (!simulated()) check_flash(DType::BF16, 1, 1024, 8, 8, 128, true, 330);
}

// Grouped-query attention: 4 query heads reading 2 kv heads (and 4:1), against the reference with
// the kv heads repeated; dk, dv summed over each group.
TEST(CudaFlashAttention, GroupedQueryMatchesRepeatedKvReference) {
  KILN_REQUIRE_GPU();
  check_flash(DType::BF16, 1, 2 * kTile - 3, 4, 2, 64, false, 400);
  check_flash(DType::BF16, 1, kTile + 1, 4, 1, 128, false, 410);
  check_flash(DType::BF16, 1, kTile + 1, 2, 2, 64, false, 420);  // n_kv_head == n_head: the op's layout
  if (!simulated()) check_flash(DType::BF16, 1, 1024, 16, 4, 128, false, 430);  // Llama-like 4:1
}

// Causality at the tile edge, bit for bit: changing token t (q, k, v) leaves out and lse of every
// earlier row unchanged; changing dout of row t leaves dq of every other row and dk, dv of every
// later key unchanged. t = the last row of the first tile and the first row of the second.
TEST(CudaFlashAttention, CausalAtTileEdges) {
  KILN_REQUIRE_GPU();
  const DType dt = DType::BF16;
  const int64_t B = 1, T = 2 * kTile + 5, NH = 2, hs = 64, C = NH * hs;
  const std::vector<double> base = randn(B * T * 3 * C, 500, 1.5), dbase = randn(B * T * C, 501);
  auto run = [&](const std::vector<double>& qkv_v, const std::vector<double>& dout_v) {
    TypedTensor qkv(dt, {B, T, 3 * C}, qkv_v), dout(dt, {B, T, C}, dout_v);
    GpuTensor qkvg(qkv), doutg(dout), out(dt, {B, T, C}), lse(DType::F32, {B, NH, T}), dqkv(dt, {B, T, 3 * C});
    gpu_ops().attention_forward(out.t(), lse.t(), qkvg.t(), int(NH), int(NH), kStream);
    gpu_ops().attention_backward(dqkv.t(), doutg.t(), qkvg.t(), out.t(), lse.t(), int(NH), int(NH), kStream);
    return std::vector<std::vector<double>>{out.get(), lse.get(), dqkv.get()};
  };
  const auto ref = run(base, dbase);
  for (int64_t t : {kTile - 1, kTile}) {
    std::vector<double> moved = base;
    for (int64_t i = t * 3 * C; i < (t + 1) * 3 * C; ++i) moved[size_t(i)] += 1.0;
    const auto fwd = run(moved, dbase);
    for (int64_t i = 0; i < t * C; ++i) ASSERT_EQ(fwd[0][size_t(i)], ref[0][size_t(i)]) << "out " << i << ", t " << t;
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t r = 0; r < t; ++r) ASSERT_EQ(fwd[1][size_t(h * T + r)], ref[1][size_t(h * T + r)]) << "lse";
    double changed = 0;
    for (int64_t i = t * C; i < (t + 1) * C; ++i) changed += std::fabs(fwd[0][size_t(i)] - ref[0][size_t(i)]);
    EXPECT_GT(changed, 0.0) << "row " << t << " ignored its own token";

    std::vector<double> dmoved = dbase;
    for (int64_t i = t * C; i < (t + 1) * C; ++i) dmoved[size_t(i)] += 1.0;
    const auto bwd = run(base, dmoved);
    for (int64_t r = 0; r < T; ++r)
      for (int64_t c = 0; c < 3 * C; ++c) {
        const bool q_part = c < C;
        if (q_part ? r == t : r <= t) continue;  // dq of row t and dk, dv of keys <= t may change
        ASSERT_EQ(bwd[2][size_t(r * 3 * C + c)], ref[2][size_t(r * 3 * C + c)])
            << "dqkv row " << r << " column " << c << " saw dout of row " << t;
      }
  }
}

TEST(CudaFlashAttention, IsDeterministicWithGroupedHeads) {
  KILN_REQUIRE_GPU();
  const DType dt = DType::BF16;
  const int64_t B = 1, T = full_or_sim<int64_t>(512, 70), NH = 4, NKV = 2, hs = 64, W = (NH + 2 * NKV) * hs;
  TypedTensor qkv(dt, {B, T, W}, randn(B * T * W, 600)), dout(dt, {B, T, NH * hs}, randn(B * T * NH * hs, 601));
  GpuTensor q(qkv), d(dout), o(dt, {B, T, NH * hs}), l(DType::F32, {B, NH, T}), g1(dt, {B, T, W}), g2(dt, {B, T, W});
  const BackendUnderTest& be = backend_under_test();
  be.attention_gqa_forward(o.t(), l.t(), q.t(), int(NH), int(NKV), kStream);
  be.attention_gqa_backward(g1.t(), d.t(), q.t(), o.t(), l.t(), int(NH), int(NKV), kStream);
  be.attention_gqa_backward(g2.t(), d.t(), q.t(), o.t(), l.t(), int(NH), int(NKV), kStream);
  EXPECT_EQ(g1.get(), g2.get());
}

// The op sends bf16/fp16 with head size 64 or 128 to the tensor-core kernels and keeps fp32 and
// other head sizes on the CUDA-core kernels: read from the simulator's launch trace
// (KILN_CUDASIM_TRACE, set by ctest for test_kernels_cudasim), the lines this test appended.
TEST(CudaFlashAttention, DispatchGoesToFlashForBf16Head64) {
  KILN_REQUIRE_GPU();
  const char* trace = std::getenv("KILN_CUDASIM_TRACE");
  if (!simulated() || trace == nullptr || trace[0] == '\0')
    GTEST_SKIP() << "needs the simulator's launch trace (KILN_CUDASIM_TRACE)";
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string me = std::string("test=") + info->test_suite_name() + "." + info->name();
  auto launches_for = [&](DType dt, int64_t hs) {
    const int64_t B = 1, T = 3, NH = 2, C = NH * hs;
    TypedTensor qkv(dt, {B, T, 3 * C}, randn(B * T * 3 * C, 700)), dout(dt, {B, T, C}, randn(B * T * C, 701));
    GpuTensor q(qkv), d(dout), o(dt, {B, T, C}), l(DType::F32, {B, NH, T}), g(dt, {B, T, 3 * C});
    std::ifstream before(trace);
    const auto skip = std::count(std::istreambuf_iterator<char>(before), std::istreambuf_iterator<char>(), '\n');
    gpu_ops().attention_forward(o.t(), l.t(), q.t(), int(NH), int(NH), kStream);
    gpu_ops().attention_backward(g.t(), d.t(), q.t(), o.t(), l.t(), int(NH), int(NH), kStream);
    std::ifstream in(trace);
    std::string line, names;
    for (int64_t n = 0; std::getline(in, line); ++n)
      if (n >= skip && line.find(me) != std::string::npos) {
        names += '\n';  // two appends: GCC 12 warns (-Wrestrict, falsely) on "\n" + std::string
        names += line.substr(0, line.find(" grid="));
      }
    return names;  // "\nkernel<args>" per launch
  };
  const std::string bf16_64 = launches_for(DType::BF16, 64);
  EXPECT_NE(bf16_64.find("\nflash_attention_forward_kernel<__nv_bfloat16, 64,"), std::string::npos) << bf16_64;
  EXPECT_NE(bf16_64.find("\nflash_attention_backward_dq_kernel<__nv_bfloat16, 64,"), std::string::npos) << bf16_64;
  EXPECT_NE(bf16_64.find("\nflash_attention_backward_dkdv_kernel<__nv_bfloat16, 64,"), std::string::npos) << bf16_64;
  EXPECT_EQ(bf16_64.find("\nattention_forward_kernel<__nv_bfloat16"), std::string::npos) << bf16_64;
  const std::string f16_128 = launches_for(DType::F16, 128);
  EXPECT_NE(f16_128.find("\nflash_attention_forward_kernel<__half, 128,"), std::string::npos) << f16_128;
  const std::string f32_64 = launches_for(DType::F32, 64);
  EXPECT_EQ(f32_64.find("flash_"), std::string::npos) << f32_64;
  EXPECT_NE(f32_64.find("\nattention_forward_kernel<float, 64,"), std::string::npos) << f32_64;
  const std::string bf16_32 = launches_for(DType::BF16, 32);  // head size 32: the CUDA-core kernels
  EXPECT_EQ(bf16_32.find("flash_"), std::string::npos) << bf16_32;
  EXPECT_NE(bf16_32.find("\nattention_forward_kernel<__nv_bfloat16, 32,"), std::string::npos) << bf16_32;
}

}  // namespace
}  // namespace kernels::test
