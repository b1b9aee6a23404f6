// tests/kernels_cuda/test_cuda_multi_tensor.cpp
// CUDA vs CPU reference for the multi-tensor ops the optimizer runs once per step
// (adamw_update_multi, sum_squares_multi): segment tables of awkward lengths with alignment gaps,
// a range that starts and ends inside a piece (a ZeRO-1 block), decay on and off, fp32/bf16/fp16
// compute copies, bf16 gradients for the norm. AdamW to 1e-7 relative (the CPU's vectorised
// update may fuse multiply-adds); sum of squares to 1e-6 relative: the CPU rounds each piece's fp64
// sum into its fp32 slot, the GPU each slot's once, so a slot of P pieces may differ by (P + 1)
// fp32 roundings, 11 * 2^-24 = 6.6e-7 here. Gap elements must come back untouched. Skips without a GPU.
#include <vector>

#include "kernels/segments.h"
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

const Stream kStream{};

// The pieces of a flat range of n elements: awkward lengths, gaps between some, flags mixed. The
// first piece starts 17 elements in and is cut short, the last runs to the end of the range, as a
// ZeRO-1 block cuts through parameters.
std::vector<Segment> block_pieces(int64_t big, int64_t* n) {
  std::vector<Segment> p;
  const int64_t lengths[] = {50, 63, 64, 65, 1000, big, 7, 129, 3, 2 * big + 1};
  const int64_t gaps[] = {0, 1, 0, 63, 0, 5, 0, 2, 64, 9};
  const uint32_t flags[] = {1, 0, 0, 1, 1, 1, 0, 1, 0, 1};
  int64_t at = 0;
  for (int i = 0; i < 10; ++i) {
    at += gaps[i];
    p.push_back({at, lengths[i], flags[i]});
    at += lengths[i];
  }
  *n = at;
  return p;
}

// A (S,4) uint32 table in the backend's memory.
struct GpuTable {
  OwnedTensor owned;
  explicit GpuTable(const std::vector<uint32_t>& words)
      : owned(GpuTensor::mem(), DType::U32, {int64_t(words.size()) / kSegmentWords, kSegmentWords}) {
    device_copy(owned.t.data, GpuTensor::mem(), words.data(), Device::kCpu, words.size() * sizeof(uint32_t));
  }
};

TEST(CudaMultiTensor, AdamWMatchesCpu) {
  KILN_REQUIRE_GPU();
  int64_t n = 0;
  const std::vector<Segment> pieces = block_pieces(full_or_sim<int64_t>(500000, 3000), &n);
  std::vector<uint32_t> words = encode_segments(pieces, n, 2);
  GpuTable table(words);
  std::vector<double> p = randn(n, 40, 0.02), g = randn(n, 41, 1e-3), m = randn(n, 42, 1e-4), v = randn(n, 43, 1e-4);
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
    if (compute != DType::F32) gpu_ops().zero(cg.t(), kStream);  // gaps stay 0 on both sides
    cpu_ops().adamw_update_multi(pc.t(), compute == DType::F32 ? Tensor{} : cc.t(), gc.t(), mc.t(), vc.t(),
                                 view(words, table.owned.t.shape), a, Stream::host());
    gpu_ops().adamw_update_multi(pg.t(), compute == DType::F32 ? Tensor{} : cg.t(), gg.t(), mg.t(), vg.t(),
                                 table.owned.t, a, kStream);
    const std::string shape = fmt("%lld in %zu pieces", (long long)n, pieces.size());
    expect_close(pg.get(), pc.get(), 1e-7, label("adamw_update_multi master", compute, shape));
    expect_close(mg.get(), mc.get(), 1e-7, label("adamw_update_multi m", compute, shape));
    expect_close(vg.get(), vc.get(), 1e-7, label("adamw_update_multi v", compute, shape));
    if (compute != DType::F32)
      expect_close(cg.get(), cc.get(), 1e-3, label("adamw_update_multi compute copy", compute, shape));
    // Gaps: exactly as they were (the CPU leaves them alone, proven in tests/kernels).
    const std::vector<double> pgot = pg.get();
    int64_t gap_changed = 0, gaps = 0, prev_end = 0;
    for (const Segment& s : pieces) {
      for (int64_t i = prev_end; i < s.start; ++i, ++gaps) gap_changed += pgot[size_t(i)] != double(float(p[size_t(i)]));
      prev_end = s.start + s.length;
    }
    EXPECT_GT(gaps, 0);
    EXPECT_EQ(gap_changed, 0) << "elements outside every piece were updated";
  }
}

TEST(CudaMultiTensor, SumSquaresMatchesCpu) {
  KILN_REQUIRE_GPU();
  int64_t n = 0;
  // On the simulator past 4096 elements per block, so the threads stride over several pieces.
  const std::vector<Segment> pieces = block_pieces(full_or_sim<int64_t>(3'000'000, 40000), &n);
  std::vector<uint32_t> words = encode_segments(pieces, n, 2);
  GpuTable table(words);
  for (DType dt : {DType::F32, DType::BF16}) {
    std::vector<double> values = randn(n, 50, 0.01);
    int64_t prev_end = 0;  // gaps hold large values: counting one would show
    for (const Segment& s : pieces) {
      for (int64_t i = prev_end; i < s.start; ++i) values[size_t(i)] = 100.0;
      prev_end = s.start + s.length;
    }
    TypedTensor x(dt, {n}, values);
    std::vector<float> oc{0.25f, 0.5f};
    cpu_ops().sum_squares_multi(view(oc, {2}), x.t(), view(words, table.owned.t.shape), Stream::host());
    TypedTensor start(DType::F32, {2}, {0.25, 0.5});
    GpuTensor xg(x), og(start), og2(start);
    gpu_ops().sum_squares_multi(og.t(), xg.t(), table.owned.t, kStream);
    const std::vector<double> got = og.get();
    const std::string shape = fmt("%lld in %zu pieces", (long long)n, pieces.size());
    expect_close({got[0]}, {double(oc[0])}, 1e-6, label("sum_squares_multi tp-sharded slot", dt, shape));
    expect_close({got[1]}, {double(oc[1])}, 1e-6, label("sum_squares_multi replicated slot", dt, shape));
    EXPECT_LT(got[0] + got[1], 5000.0) << "a gap (10^4 per element) was counted";
    // Deterministic: the same input gives the same bits.
    gpu_ops().sum_squares_multi(og2.t(), xg.t(), table.owned.t, kStream);
    EXPECT_EQ(og2.get(), got);
  }
}

}  // namespace
}  // namespace kernels::test
