// tests/inference/test_generation.cpp
// Sampling against WORKED-EXAMPLES.md, and the KV-cache generator against a full recompute: the
// logits that predict each position must equal those of Gpt2Model::forward over the whole prefix.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "kernels/rng.h"
#include "tests/trainer/trainer_test_util.h"
#include "inference/generator.h"
#include "model/gpt2.h"
#include "inference/sampler.h"
#include "tests/common/one_rank.h"

namespace {

using kernels::Device;
using kernels::DType;

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "index " << i;
}

std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(float(std::log(p)));
  return l;
}

TEST(Sampler, SoftmaxTemperatureWorkedExamples) {
  const std::vector<float> l = {3.0f, 1.5f, -1.0f, -2.0f, -3.0f};
  expect_near_all(inference::softmax_with_temperature(l, 1.0), {0.800, 0.178, 0.015, 0.005, 0.002}, 5e-4);
  expect_near_all(inference::softmax_with_temperature(l, 0.5), {0.952, 0.047, 0.000, 0.000, 0.000}, 5e-4);
  expect_near_all(inference::softmax_with_temperature(l, 2.0), {0.575, 0.272, 0.078, 0.047, 0.029}, 5e-4);
  std::vector<float> shifted = l;
  for (float& x : shifted) x += 1000.f;  // max subtracted first: exp stays finite, nothing changes
  expect_near_all(inference::softmax_with_temperature(shifted, 1.0), inference::softmax_with_temperature(l, 1.0), 1e-6);
  expect_near_all(inference::softmax_with_temperature({2.4f, 1.7f, 0.2f}, 1.4), {0.551, 0.334, 0.115}, 5e-4);
  inference::SamplingOptions greedy;
  greedy.temperature = 0;
  for (uint64_t pos = 0; pos < 10; ++pos) EXPECT_EQ(inference::choose_token(l, greedy, pos), 0);
}

TEST(Sampler, TopKAndTopPWorkedExamples) {
  std::vector<double> p = {0.5, 0.3, 0.15, 0.05};
  inference::keep_top_k(p, 2);
  expect_near_all(p, {0.625, 0.375, 0, 0}, 1e-12);
  p = {0.5, 0.3, 0.15, 0.05};
  inference::keep_top_p(p, 0.9);
  expect_near_all(p, {0.526, 0.316, 0.158, 0}, 5e-4);
  p = {0.05, 0.15, 0.5, 0.3};  // order of ids does not matter
  inference::keep_top_p(p, 0.9);
  expect_near_all(p, {0, 0.158, 0.526, 0.316}, 5e-4);
  p = {0.5, 0.3, 0.15, 0.05};
  inference::keep_top_p(p, 0.01);  // the most probable token is always kept
  expect_near_all(p, {1, 0, 0, 0}, 1e-12);
}

TEST(Sampler, DrawsFollowTheFilteredDistributionAndRepeatForASeed) {
  const std::vector<float> l = logits_of({0.5, 0.3, 0.15, 0.05});
  inference::SamplingOptions o;
  o.seed = 42;
  std::map<int, int> counts;
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++counts[inference::choose_token(l, o, uint64_t(i))];
  // Binomial standard deviation at n = 40000 is at most 0.0025: 0.01 is four of them.
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 0.15, 0.01);
  EXPECT_NEAR(counts[3] / double(n), 0.05, 0.01);
  o.top_k = 2;
  counts.clear();
  for (int i = 0; i < n; ++i) ++counts[inference::choose_token(l, o, uint64_t(i))];
  EXPECT_EQ(counts.count(2) + counts.count(3), 0u) << "top-k 2 drew an excluded id";
  EXPECT_NEAR(counts[0] / double(n), 0.625, 0.01);
  // Same seed and position: same token; another seed: a different sequence.
  std::vector<int> a, b, c;
  inference::SamplingOptions o2 = o;
  o2.seed = 43;
  for (int i = 0; i < 64; ++i) {
    a.push_back(inference::choose_token(l, o, uint64_t(i)));
    b.push_back(inference::choose_token(l, o, uint64_t(i)));
    c.push_back(inference::choose_token(l, o2, uint64_t(i)));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// The logits of a full forward over `tokens` (one row, T = seq_len) at position t, real vocab only.
std::vector<float> full_logits_at(model::Gpt2Model& model, const std::vector<int32_t>& window, int t, int vocab_real) {
  model.forward(window, 1);
  const std::vector<float> all = model.logits();
  const int V = model.config().vocab_size;
  return std::vector<float>(all.begin() + int64_t(t) * V, all.begin() + int64_t(t) * V + vocab_real);
}

void expect_kv_cache_equals_recompute(DType compute, double tol) {
  for (bool tied : {true, false}) {
    configs::ModelConfig cfg = trainer_test::small_model(/*vocab=*/40, /*seq_len=*/12, /*d_model=*/16, /*d_ff=*/32);
    cfg.tie_embeddings = tied;
    const int vocab_real = 37;
    const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
    const DType master = compute == DType::F64 ? DType::F64 : DType::F32;
    model::Gpt2Model model(cfg, vocab_real, 1, ops, Device::kCpu, {compute, master}, kiln_test::self_comm());
    model.params().init(11, ops);
    // Larger weights than GPT-2's 0.02 so attention is far from uniform and errors would show.
    if (master == DType::F32)
      for (int p = 0; p < model.params().size(); ++p) {
        kernels::Tensor w = model.params().master(p);
        for (int64_t e = 0; e < w.numel(); ++e)
          w.as<float>()[e] += float(0.2 * kernels::normal(kernels::mix(5, uint64_t(p)), uint64_t(e)));
      }
    else
      for (int p = 0; p < model.params().size(); ++p) {
        kernels::Tensor w = model.params().master(p);
        for (int64_t e = 0; e < w.numel(); ++e)
          w.as<double>()[e] += 0.2 * kernels::normal(kernels::mix(5, uint64_t(p)), uint64_t(e));
      }
    model.params().sync_compute(ops);
    const std::vector<int32_t> window = trainer_test::random_windows(1, cfg.seq_len, vocab_real, 9);

    inference::Generator gen(cfg, model.params(), vocab_real, ops);
    // A 4-token prompt in one call, then one token per call, to the end of the context.
    std::vector<float> got = gen.feed(std::vector<int32_t>(window.begin(), window.begin() + 4));
    double worst = 0;
    for (int t = 3; t < cfg.seq_len; ++t) {
      const std::vector<float> want = full_logits_at(model, window, t, vocab_real);
      ASSERT_EQ(got.size(), want.size());
      for (size_t v = 0; v < want.size(); ++v) worst = std::max(worst, double(std::fabs(got[v] - want[v])));
      if (t + 1 < cfg.seq_len) got = gen.feed({window[size_t(t + 1)]});
    }
    EXPECT_LT(worst, tol) << "tied=" << tied << " compute " << kernels::dtype_name(compute);
    EXPECT_EQ(gen.position(), cfg.seq_len);
    // After reset the cache is rebuilt from a later slice: its logits are those of a forward over
    // that slice starting at position 0.
    gen.reset();
    const std::vector<int32_t> tail(window.begin() + 5, window.begin() + 10);
    got = gen.feed(tail);
    std::vector<int32_t> shifted(window.begin() + 5, window.end());
    shifted.resize(size_t(cfg.seq_len + 1), 0);
    const std::vector<float> want = full_logits_at(model, shifted, 4, vocab_real);
    for (size_t v = 0; v < want.size(); ++v) EXPECT_NEAR(got[v], want[v], tol);
  }
}

TEST(Generator, KvCacheLogitsEqualFullRecomputeFp64) { expect_kv_cache_equals_recompute(DType::F64, 1e-10); }
TEST(Generator, KvCacheLogitsEqualFullRecomputeFp32) { expect_kv_cache_equals_recompute(DType::F32, 2e-5); }
// bf16 storage rounds the same values at the same points; only BLAS summation order differs.
TEST(Generator, KvCacheLogitsEqualFullRecomputeBf16) { expect_kv_cache_equals_recompute(DType::BF16, 5e-2); }

TEST(Generate, StopsAtEotRepeatsForASeedAndSlidesPastTheContext) {
  configs::ModelConfig cfg = trainer_test::small_model(/*vocab=*/40, /*seq_len=*/12, /*d_model=*/16, /*d_ff=*/32);
  const int vocab_real = 37;
  const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
  model::Gpt2Model model(cfg, vocab_real, 1, ops, Device::kCpu, {DType::F32, DType::F32}, kiln_test::self_comm());
  model.params().init(11, ops);
  inference::Generator gen(cfg, model.params(), vocab_real, ops);
  const auto run = [&](const inference::SamplingOptions& o, int eot, int* rebuilds) {
    std::vector<int32_t> out;
    *rebuilds = 0;
    const int n = inference::generate(gen, {1, 2, 3}, o, 30, eot, [&](int32_t id) { out.push_back(id); },
                                    [&] { ++*rebuilds; });
    EXPECT_EQ(n, int(out.size()));
    return out;
  };
  inference::SamplingOptions sampled;
  sampled.seed = 5;
  int rebuilds = 0;
  const std::vector<int32_t> a = run(sampled, -1, &rebuilds);
  ASSERT_EQ(a.size(), 30u);  // 3 + 30 tokens > seq_len 12: the context was rebuilt, generation went on
  EXPECT_EQ(rebuilds, 1);
  EXPECT_EQ(run(sampled, -1, &rebuilds), a);  // same seed, same text
  sampled.seed = 6;
  EXPECT_NE(run(sampled, -1, &rebuilds), a);
  // End-of-text: generation stops before the first time it is chosen, and it is not passed on.
  sampled.seed = 5;
  const int32_t eot = a[7];
  const size_t first = size_t(std::find(a.begin(), a.end(), eot) - a.begin());
  const std::vector<int32_t> stopped = run(sampled, eot, &rebuilds);
  EXPECT_EQ(stopped, std::vector<int32_t>(a.begin(), a.begin() + std::ptrdiff_t(first)));
}

}  // namespace
