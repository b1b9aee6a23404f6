// tests/model/test_model_gradient.cpp
// The whole model's backward pass against central finite differences of its forward, run entirely
// in fp64 through the CPU op table (so the check is about the math, not rounding): GPT-2 tied and
// untied; Llama tied and untied, with grouped-query (4 query heads on 2 key/value heads, and on 1)
// and plain multi-head attention. Also: padded vocab rows get no gradient, and the gradient buckets
// are final when backward reports them (both architectures).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/rng.h"
#include "tests/trainer/trainer_test_util.h"
#include "model/model.h"
#include "tests/common/one_rank.h"

namespace {

using kernels::Device;
using kernels::DType;

// vocab padded to 24: 4 columns past the real vocab of 20.
configs::ModelConfig tiny_model() { return trainer_test::small_model(24, 6, 8, 16); }
// Llama: 4 query heads of 4 channels on n_kv_head key/value heads.
configs::ModelConfig tiny_llama(int n_kv_head, bool tied) {
  configs::ModelConfig m = trainer_test::small_llama(24, 6, 16, 4, n_kv_head, 24);
  m.tie_embeddings = tied;
  return m;
}
std::string describe(const configs::ModelConfig& m) {
  return m.arch + (m.tied() ? " tied" : " untied") +
         (m.is_llama() ? " NH=" + std::to_string(m.n_head) + " NKV=" + std::to_string(m.kv_heads()) : "");
}
using trainer_test::random_windows;

double get(kernels::Tensor t, int64_t i) { return t.as<double>()[i]; }
void set(kernels::Tensor t, int64_t i, double v) { t.as<double>()[i] = v; }

// d loss / d params by the backward pass against central differences (h = 1e-5) at 4 random
// coordinates of every parameter (real vocab rows only); returns the norm-based relative error.
double whole_model_gradient_error(const configs::ModelConfig& cfg) {
  const int B = 2, vocab_real = 20;
  const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
  const std::unique_ptr<model::Model> model =
      model::make_model(cfg, vocab_real, B, ops, Device::kCpu, {DType::F64, DType::F64}, kiln_test::self_comm());
  model::ParamArena& P = model->params();
  P.init(7, ops);
  // Larger weights than the 0.02 init so every path carries signal the check can see.
  for (int p = 0; p < P.size(); ++p) {
    kernels::Tensor w = P.master(p);
    for (int64_t e = 0; e < w.numel(); ++e) set(w, e, get(w, e) + 0.3 * kernels::normal(kernels::mix(99, uint64_t(p)), uint64_t(e)));
  }
  const std::vector<int32_t> win = random_windows(B, cfg.seq_len, vocab_real, 3);
  P.zero_grads(ops);
  model->forward(win);
  model->backward(1.0f);

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
      const double lp = model->forward(win);
      set(w, e, w0 - h);
      const double lm = model->forward(win);
      set(w, e, w0);
      const double numeric = (lp - lm) / (2 * h), analytic = get(g, e);
      num_sq += numeric * numeric;
      ana_sq += analytic * analytic;
      diff_sq += (numeric - analytic) * (numeric - analytic);
      ++checked;
    }
  }
  const double rel = std::sqrt(diff_sq) / std::max(std::sqrt(num_sq), std::sqrt(ana_sq));
  EXPECT_GT(std::sqrt(ana_sq), 1e-3) << "gradient vanished: the check would be vacuous";
  std::printf("whole-model gradient check (%s): %d coordinates, relative error %.3e\n", describe(cfg).c_str(),
              checked, rel);
  return rel;
}

TEST(ModelGradient, WholeModelMatchesFiniteDifferencesInDouble) {
  for (bool tied : {true, false}) {
    configs::ModelConfig cfg = tiny_model();
    cfg.tie_embeddings = tied;
    EXPECT_LT(whole_model_gradient_error(cfg), 1e-6) << describe(cfg);
  }
}

TEST(ModelGradient, WholeLlamaMatchesFiniteDifferencesInDouble) {
  for (bool tied : {false, true})
    for (int n_kv_head : {2, 4, 1}) {  // GQA 4:2, multi-head 4:4, multi-query 4:1
      const configs::ModelConfig cfg = tiny_llama(n_kv_head, tied);
      EXPECT_LT(whole_model_gradient_error(cfg), 1e-6) << describe(cfg);
    }
}

TEST(ModelGradient, PaddedVocabRowsGetNoGradient) {
  for (const configs::ModelConfig& cfg : {tiny_model(), tiny_llama(2, false)}) {
    const int vocab_real = 20;
    const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
    const std::unique_ptr<model::Model> model =
        model::make_model(cfg, vocab_real, 2, ops, Device::kCpu, {DType::F64, DType::F64}, kiln_test::self_comm());
    model::ParamArena& P = model->params();
    P.init(1, ops);
    P.zero_grads(ops);
    model->forward(random_windows(2, cfg.seq_len, vocab_real, 4));
    model->backward(1.0f);
    for (const char* name : {"wte", "model.embed_tokens.weight", "lm_head.weight"}) {
      if (!P.has(name)) continue;
      const kernels::Tensor g = P.grad(name), w = P.master(P.index_of(name));
      for (int64_t e = int64_t(vocab_real) * cfg.d_model; e < g.numel(); ++e) {
        ASSERT_EQ(get(g, e), 0.0) << name << " element " << e;
        ASSERT_EQ(get(w, e), 0.0) << name << ": padded rows are initialised to zero";
      }
    }
  }
}

}  // namespace

namespace {

// The data-parallel overlap hook: when backward reports bucket k ready, its gradients must already
// be final (an all-reduce issued then must not miss a later contribution), and the buckets must
// cover the whole arena in order of readiness.
TEST(ModelGradient, GradBucketsAreFinalWhenReported) {
  std::vector<configs::ModelConfig> cfgs;
  for (bool tied : {true, false}) {
    configs::ModelConfig gpt2 = tiny_model();
    gpt2.tie_embeddings = tied;
    cfgs.push_back(gpt2);
    cfgs.push_back(tiny_llama(2, tied));
  }
  for (const configs::ModelConfig& cfg : cfgs) {
    const bool tied = cfg.tied();
    const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
    const std::unique_ptr<model::Model> model_ptr =
        model::make_model(cfg, 20, 2, ops, Device::kCpu, {DType::F64, DType::F64}, kiln_test::self_comm());
    model::Model& model = *model_ptr;
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
        ASSERT_EQ(at_ready[k][size_t(i)], g[i]) << "bucket " << k << " changed after it was reported ready ("
                                                << describe(cfg) << ", tied=" << tied << ")";
    }
  }
}

}  // namespace
