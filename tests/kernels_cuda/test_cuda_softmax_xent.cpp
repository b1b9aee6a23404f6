// tests/kernels_cuda/test_cuda_softmax_xent.cpp
// CUDA vs CPU reference for the loss: fused softmax_xent (losses, dlogits separate and in place,
// padded vocabulary, ignored targets) at V = 50304, and the vocab-parallel three-pass form
// (xent_shard_*) on one and on two shards, and the step loss's device accumulation (loss_mean_accumulate).
// fp32 (1e-5) and bf16 (1e-2). Skip without a GPU; the
// simulator keeps GPT-2's vocabulary but runs fewer rows.
// The reference for fp32 runs in fp64: over 50257 columns the CPU's own fp32 sum is off by ~2.5e-5
// (found by the simulator, whose kernel came within 5e-8 of fp64), so it cannot referee 1e-5.
// bf16/fp16 compare with the CPU's emulation of that dtype, as everywhere.
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

const Stream kStream{};

// The dtype the reference computes in for a kernel computing in dt (see the header).
DType ref_dtype(DType dt) { return dt == DType::F32 ? DType::F64 : dt; }
DType ref_stat_dtype(DType dt) { return dt == DType::F32 ? DType::F64 : DType::F32; }

// Targets in [0, Vr), every 7th ignored (-1).
std::vector<int32_t> make_targets(int64_t N, int Vr, uint64_t seed) {
  std::vector<int32_t> t(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) t[size_t(n)] = n % 7 == 6 ? -1 : int32_t(uniform01(seed, uint64_t(n)) * Vr);
  return t;
}

void check_softmax_xent(DType dt, int64_t N, int64_t V, int Vr, bool in_place) {
  const std::string shape = fmt("N%lld V%lld Vr%d%s", (long long)N, (long long)V, Vr, in_place ? " in place" : "");
  std::vector<int32_t> tgt = make_targets(N, Vr, 70);
  TypedTensor logits(dt, {N, V}, randn(N * V, 71, 4.0));
  GpuTensor lg(logits), lossg(DType::F32, {N}), dg(dt, {N, V});
  GpuInts tg(tgt, {N});
  const float dloss = 1.0f / float(N);
  TypedTensor ref_logits(ref_dtype(dt), {N, V}, logits.get()), losses(ref_stat_dtype(dt), {N}),
      dlogits(ref_dtype(dt), {N, V});
  cpu_ops().softmax_xent(losses.t(), dlogits.t(), ref_logits.t(), view(tgt, {N}), Vr, dloss, Stream::host());
  gpu_ops().softmax_xent(lossg.t(), in_place ? lg.t() : dg.t(), lg.t(), tg.t(), Vr, dloss, kStream);
  expect_close(lossg.get(), losses.get(), 1e-5, label("softmax_xent losses", dt, shape));
  expect_close(in_place ? lg.get() : dg.get(), dlogits.get(), tol_for(dt), label("softmax_xent dlogits", dt, shape));
  // Padded columns and ignored rows are exactly zero.
  const std::vector<double> d = in_place ? lg.get() : dg.get();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < V; ++c)
      if (c >= Vr || tgt[size_t(n)] < 0) {
        ASSERT_EQ(d[size_t(n * V + c)], 0.0) << "row " << n << " col " << c;
      }
}

TEST(CudaSoftmaxXent, MatchesCpuAtGpt2Vocab) {
  KILN_REQUIRE_GPU();
  for (DType dt : {DType::F32, DType::BF16}) {
    check_softmax_xent(dt, full_or_sim(4 * 64, 9), 50304, 50257, false);
    check_softmax_xent(dt, full_or_sim(4 * 64, 9), 50304, 50257, true);
  }
}

TEST(CudaSoftmaxXent, MatchesCpuAtAwkwardShapes) {
  KILN_REQUIRE_GPU();
  check_softmax_xent(DType::F32, 13, 1000, 1000, true);  // no padding
  check_softmax_xent(DType::F32, 5, 700, 1, false);      // one real column
  check_softmax_xent(DType::F16, 33, 3000, 2999, true);
}

TEST(CudaSoftmaxXent, LossesOnlyForward) {
  KILN_REQUIRE_GPU();
  const int64_t N = full_or_sim(64, 8), V = 50304;
  const int Vr = 50257;
  std::vector<int32_t> tgt = make_targets(N, Vr, 72);
  TypedTensor logits(DType::BF16, {N, V}, randn(N * V, 73)), losses(DType::F32, {N});
  GpuTensor lg(logits), lossg(DType::F32, {N});
  GpuInts tg(tgt, {N});
  cpu_ops().softmax_xent(losses.t(), Tensor{}, logits.t(), view(tgt, {N}), Vr, 0.f, Stream::host());
  gpu_ops().softmax_xent(lossg.t(), Tensor{}, lg.t(), tg.t(), Vr, 0.f, kStream);
  expect_close(lossg.get(), losses.get(), 1e-5, fmt("softmax_xent losses only, bf16 N%lld V50304", (long long)N));
}

// Runs the three passes over `shards` column shards of the logits (the all-reduces done by hand:
// max, then sums) and compares with the fused CPU softmax_xent.
void check_shards(DType dt, int shards) {
  const int64_t N = full_or_sim(96, 10), V = 50304;
  const int Vr = 50257;
  const int64_t Vs = V / shards;
  const std::string shape = fmt("N%lld V50304 over %d shard(s)", (long long)N, shards);
  std::vector<int32_t> tgt = make_targets(N, Vr, 74);
  std::vector<double> all = randn(N * V, 75, 3.0);
  TypedTensor full(dt, {N, V}, all);
  TypedTensor full_ref(ref_dtype(dt), {N, V}, full.get()), want_loss(ref_stat_dtype(dt), {N}),
      want_d(ref_dtype(dt), {N, V});
  const float dloss = 0.5f;
  cpu_ops().softmax_xent(want_loss.t(), want_d.t(), full_ref.t(), view(tgt, {N}), Vr, dloss, Stream::host());

  std::vector<GpuTensor> logit_shards;
  for (int s = 0; s < shards; ++s) {
    std::vector<double> part(static_cast<size_t>(N * Vs));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < Vs; ++c) part[size_t(n * Vs + c)] = all[size_t(n * V + s * Vs + c)];
    TypedTensor host(dt, {N, Vs}, part);
    logit_shards.emplace_back(host);
  }
  GpuInts tg(tgt, {N});
  std::vector<double> gmax(static_cast<size_t>(N), -INFINITY), gsum(static_cast<size_t>(N), 0.0),
      gtl(static_cast<size_t>(N), 0.0);
  for (int s = 0; s < shards; ++s) {
    GpuTensor mx(DType::F32, {N});
    gpu_ops().xent_shard_max(mx.t(), logit_shards[size_t(s)].t(), int(s * Vs), Vr, kStream);
    const std::vector<double> m = mx.get();
    for (int64_t n = 0; n < N; ++n) gmax[size_t(n)] = std::max(gmax[size_t(n)], m[size_t(n)]);
  }
  TypedTensor gmax_h(DType::F32, {N}, gmax);
  GpuTensor gmax_d(gmax_h);
  for (int s = 0; s < shards; ++s) {
    GpuTensor se(DType::F32, {N}), tl(DType::F32, {N});
    gpu_ops().xent_shard_sumexp(se.t(), tl.t(), logit_shards[size_t(s)].t(), tg.t(), gmax_d.t(), int(s * Vs), Vr,
                                kStream);
    const std::vector<double> a = se.get(), b = tl.get();
    for (int64_t n = 0; n < N; ++n) {
      gsum[size_t(n)] += a[size_t(n)];
      gtl[size_t(n)] += b[size_t(n)];
    }
  }
  TypedTensor gsum_h(DType::F32, {N}, gsum), gtl_h(DType::F32, {N}, gtl);
  GpuTensor gsum_d(gsum_h), gtl_d(gtl_h);
  for (int s = 0; s < shards; ++s) {
    GpuTensor loss(DType::F32, {N});
    Tensor lt = logit_shards[size_t(s)].t();
    gpu_ops().xent_shard_finish(loss.t(), lt, lt, tg.t(), gmax_d.t(), gsum_d.t(), gtl_d.t(), int(s * Vs), Vr, dloss,
                                kStream);  // in place
    expect_close(loss.get(), want_loss.get(), 1e-5, label("xent_shard losses", dt, shape));
    const std::vector<double> got = logit_shards[size_t(s)].get(), ref = want_d.get();
    std::vector<double> want(static_cast<size_t>(N * Vs));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < Vs; ++c) want[size_t(n * Vs + c)] = ref[size_t(n * V + s * Vs + c)];
    expect_close(got, want, tol_for(dt), label("xent_shard dlogits", dt, fmt("%s shard %d", shape.c_str(), s)));
  }
}

TEST(CudaXentShard, OneAndTwoShardsMatchFusedCpuLoss) {
  KILN_REQUIRE_GPU();
  for (DType dt : {DType::F32, DType::BF16}) {
    check_shards(dt, 1);
    check_shards(dt, 2);
  }
}

// loss_mean_accumulate: the training step's loss, summed over micro-steps on the device. Three
// micro-batches of a GPT-2 micro-step's size (B*T = 16*1024; fewer on the simulator) added into one
// fp64 scalar that starts at 0.25; the GPU sums in a tree order, the CPU in index order: 1e-12
// relative in fp64. A count of 0 adds nothing.
TEST(CudaLossAccumulate, MatchesCpu) {
  KILN_REQUIRE_GPU();
  const int64_t N = full_or_sim<int64_t>(16 * 1024, 2000);
  TypedTensor cpu_acc(DType::F64, {1}, std::vector<double>{0.25});
  GpuTensor gpu_acc(cpu_acc);
  for (int micro = 0; micro < 3; ++micro) {
    std::vector<double> l = randn(N, 90 + uint64_t(micro), 1.0);
    for (double& x : l) x = 4.0 + x * x;  // losses are positive, a few nats
    TypedTensor losses(DType::F32, {N}, l);
    GpuTensor gl(losses);
    const double count = double(N - 7 * micro);  // some targets ignored
    cpu_ops().loss_mean_accumulate(cpu_acc.t(), losses.t(), count, 3.0, Stream::host());
    gpu_ops().loss_mean_accumulate(gpu_acc.t(), gl.t(), count, 3.0, kStream);
  }
  expect_close(gpu_acc.get(), cpu_acc.get(), 1e-12, "loss_mean_accumulate fp32 losses, 3 micro-steps");
  const double before = gpu_acc.get()[0];
  TypedTensor ones(DType::F32, {N}, std::vector<double>(size_t(N), 1.0));
  GpuTensor g1(ones);
  gpu_ops().loss_mean_accumulate(gpu_acc.t(), g1.t(), 0.0, 3.0, kStream);
  EXPECT_EQ(gpu_acc.get()[0], before) << "count 0 adds nothing";
}

}  // namespace
}  // namespace kernels::test
