// tests/model/test_model_gradient.cpp
// The whole GPT-2 backward pass against central finite differences of its forward, run entirely in
// fp64 through the CPU op table (so the check is about the math, not rounding).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/rng.h"
#include "tests/trainer/trainer_test_util.h"
#include "model/gpt2.h"
#include "tests/common/one_rank.h"

namespace {

using kernels::Device;
using kernels::DType;

// vocab padded to 24: 4 columns past the real vocab of 20.
configs::ModelConfig tiny_model() { return trainer_test::small_model(24, 6, 8, 16); }
using trainer_test::random_windows;

double get(kernels::Tensor t, int64_t i) { return t.as<double>()[i]; }
void set(kernels::Tensor t, int64_t i, double v) { t.as<double>()[i] = v; }

TEST(ModelGradient, WholeModelMatchesFiniteDifferencesInDouble) {
  for (bool tied : {true, false}) {
    configs::ModelConfig cfg = tiny_model();
    cfg.tie_embeddings = tied;
    const int B = 2, vocab_real = 20;
    const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
    model::Gpt2Model model(cfg, vocab_real, B, ops, Device::kCpu, {DType::F64, DType::F64}, kiln_test::self_comm());
    model::ParamArena& P = model.params();
    P.init(7, ops);
    // Larger weights than GPT-2's 0.02 so every path carries signal the check can see.
    for (int p = 0; p < P.size(); ++p) {
      kernels::Tensor w = P.master(p);
      for (int64_t e = 0; e < w.numel(); ++e) set(w, e, get(w, e) + 0.3 * kernels::normal(kernels::mix(99, uint64_t(p)), uint64_t(e)));
    }
    const std::vector<int32_t> win = random_windows(B, cfg.seq_len, vocab_real, 3);
    P.zero_grads(ops);
    model.forward(win);
    model.backward(1.0f);

    double num_sq = 0, diff_sq = 0, ana_sq = 0;
    int checked = 0;
    const double h = 1e-5;
    for (int p = 0; p < P.size(); ++p) {
      kernels::Tensor w = P.master(p), g = P.grad(p);
      const int64_t n = w.numel();
      for (int k = 0; k < 4; ++k) {
        int64_t e = int64_t(kernels::uniform01(kernels::mix(5, uint64_t(p)), uint64_t(k)) * double(n));
        if (P.spec(p).padded_rows_from >= 0) e %= int64_t(vocab_real) * cfg.d_model;  // real rows only
        const double w0 = get(w, e);
        set(w, e, w0 + h);
        const double lp = model.forward(win);
        set(w, e, w0 - h);
        const double lm = model.forward(win);
        set(w, e, w0);
        const double numeric = (lp - lm) / (2 * h), analytic = get(g, e);
        num_sq += numeric * numeric;
        ana_sq += analytic * analytic;
        diff_sq += (numeric - analytic) * (numeric - analytic);
        ++checked;
      }
    }
    const double rel = std::sqrt(diff_sq) / std::max(std::sqrt(num_sq), std::sqrt(ana_sq));
    EXPECT_LT(rel, 1e-6) << "tied=" << tied << " over " << checked << " coordinates";
    EXPECT_GT(std::sqrt(ana_sq), 1e-3) << "gradient vanished: the check would be vacuous";
    std::printf("whole-model gradient check (tied=%d): %d coordinates, relative error %.3e\n", int(tied), checked, rel);
  }
}

TEST(ModelGradient, PaddedVocabRowsGetNoGradient) {
  configs::ModelConfig cfg = tiny_model();
  const int vocab_real = 20;
  const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
  model::Gpt2Model model(cfg, vocab_real, 2, ops, Device::kCpu, {DType::F64, DType::F64}, kiln_test::self_comm());
  model.params().init(1, ops);
  model.params().zero_grads(ops);
  model.forward(random_windows(2, cfg.seq_len, vocab_real, 4));
  model.backward(1.0f);
  const kernels::Tensor g = model.params().grad("wte"), w = model.params().master(model.params().index_of("wte"));
  for (int64_t e = int64_t(vocab_real) * cfg.d_model; e < g.numel(); ++e) {
    ASSERT_EQ(get(g, e), 0.0) << "element " << e;
    ASSERT_EQ(get(w, e), 0.0) << "padded rows are initialised to zero";
  }
}

}  // namespace

namespace {

// The data-parallel overlap hook: when backward reports bucket k ready, its gradients must already
// be final (an all-reduce issued then must not miss a later contribution), and the buckets must
// cover the whole arena in order of readiness.
TEST(ModelGradient, GradBucketsAreFinalWhenReported) {
  for (bool tied : {true, false}) {
    configs::ModelConfig cfg = tiny_model();
    cfg.tie_embeddings = tied;
    const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
    model::Gpt2Model model(cfg, 20, 2, ops, Device::kCpu, {DType::F64, DType::F64}, kiln_test::self_comm());
    model::ParamArena& P = model.params();
    P.init(3, ops);
    P.zero_grads(ops);
    const std::vector<parallel::ShardRange> buckets = model.grad_buckets();
    int64_t covered = 0;
    for (const auto& b : buckets) covered += b.count;
    EXPECT_EQ(covered, P.total_elements());
    const kernels::Tensor flat = P.all_grads();
    std::vector<std::vector<double>> at_ready(buckets.size());
    std::vector<int> order;
    model.forward(random_windows(2, cfg.seq_len, 20, 8));
    model.backward(1.0f, [&](int k) {
      order.push_back(k);
      const double* g = flat.as<double>() + buckets[size_t(k)].begin;
      at_ready[size_t(k)].assign(g, g + buckets[size_t(k)].count);
    });
    ASSERT_EQ(order.size(), buckets.size());
    for (size_t k = 0; k < order.size(); ++k) EXPECT_EQ(order[k], int(k)) << "buckets are reported in order";
    for (size_t k = 0; k < buckets.size(); ++k) {
      const double* g = flat.as<double>() + buckets[k].begin;
      for (int64_t i = 0; i < buckets[k].count; ++i)
        ASSERT_EQ(at_ready[k][size_t(i)], g[i]) << "bucket " << k << " changed after it was reported ready (tied=" << tied << ")";
    }
  }
}

}  // namespace
