// tests/kernels/test_worked_examples.cpp
// The softmax and cross-entropy worked examples of docs/design WORKED-EXAMPLES.md, run through
// cpu::kOps.softmax_xent in fp32 (and fp64 for the table). The document rounds to 3 decimals, so
// the tolerance is half a unit of the last printed digit (5e-4).
// Probabilities are read back from the gradient: with dloss = 1, dlogits = softmax - onehot.
// Not here: perplexity / bits-per-byte (trainer tests), sampling (top-k/top-p live elsewhere).
#include <cmath>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

constexpr double kTableTol = 5e-4;  // values in the document are rounded to 3 decimals

struct SoftmaxOut {
  std::vector<float> losses;
  std::vector<float> probs;  // (N, V)
  std::vector<float> dlogits;
};

// Runs softmax_xent on fp32 logits (N, V) with dloss = 1 and recovers the probabilities.
SoftmaxOut run_xent(std::vector<float> logits, std::vector<int32_t> targets, int64_t V, int vocab_real) {
  const int64_t N = int64_t(targets.size());
  SoftmaxOut r;
  r.losses.assign(size_t(N), 0.f);
  r.dlogits.assign(size_t(N * V), 0.f);
  cpu_ops().softmax_xent(view(r.losses, {N}), view(r.dlogits, {N, V}), view(logits, {N, V}), view(targets, {N}),
                         vocab_real, 1.f, Stream::host());
  r.probs = r.dlogits;
  for (int64_t n = 0; n < N; ++n)
    if (targets[size_t(n)] >= 0) r.probs[size_t(n * V + targets[size_t(n)])] += 1.f;
  return r;
}

// The cross-entropy table: 4 positions, vocab 5, targets [1, 2, 3, 4].
const std::vector<double> kXentLogits64 = {0.0,  3.0, 0.5,  -1.0, -2.0,   // position 0
                                           -1.0, 0.1, 2.5,  0.0,  -2.0,   // position 1
                                           -1.0, 0.0, 0.2,  2.0,  -1.5,   // position 2
                                           -2.0, 0.0, -1.0, -0.5, 2.4};   // position 3
const std::vector<float> kXentLogits = convert<float>(kXentLogits64);
const std::vector<int32_t> kXentTargets = {1, 2, 3, 4};
const double kTrueProb[4] = {0.864, 0.824, 0.724, 0.839};
const double kTokenLoss[4] = {0.146, 0.194, 0.323, 0.175};
constexpr double kMeanLoss = 0.209;

void expect_xent_table(const SoftmaxOut& r, int64_t V, const char* what) {
  double mean = 0;
  for (int n = 0; n < 4; ++n) {
    EXPECT_NEAR(r.losses[size_t(n)], kTokenLoss[n], kTableTol) << what << " loss at position " << n;
    EXPECT_NEAR(r.probs[size_t(n * V + kXentTargets[size_t(n)])], kTrueProb[n], kTableTol) << what << " p(true) " << n;
    mean += r.losses[size_t(n)] / 4.0;
  }
  EXPECT_NEAR(mean, kMeanLoss, kTableTol) << what << " mean cross-entropy";
}

TEST(WorkedExamples, CrossEntropyTable) {
  expect_xent_table(run_xent(kXentLogits, kXentTargets, 5, 5), 5, "fp32");
}

TEST(WorkedExamples, CrossEntropyTableInDouble) {
  std::vector<double> logits = kXentLogits64, losses = zeros(4);
  std::vector<int32_t> targets = kXentTargets;
  cpu_ops().softmax_xent(view(losses, {4}), Tensor{}, view(logits, {4, 5}), view(targets, {4}), 5, 1.f, Stream::host());
  // -log p(true) evaluated independently (Python, math.exp/log in double)
  const double want[4] = {0.14576618761582807, 0.19401074778639787, 0.3225316764388938, 0.1751221894362872};
  for (int n = 0; n < 4; ++n) EXPECT_NEAR(losses[size_t(n)], want[n], 1e-12) << "exact value, position " << n;
}

TEST(WorkedExamples, CrossEntropyTableShiftedBy1000) {
  std::vector<float> shifted = kXentLogits;
  for (float& x : shifted) x += 1000.f;  // representable to ~6e-5 at this magnitude
  expect_xent_table(run_xent(shifted, kXentTargets, 5, 5), 5, "logits + 1000");
}

TEST(WorkedExamples, CrossEntropyPaddedColumnsIgnored) {
  // Same table with 3 padded columns holding large logits: they must not change loss or
  // probabilities, and must get exactly zero gradient.
  const int64_t V = 8;
  std::vector<float> padded;
  for (int n = 0; n < 4; ++n) {
    for (int c = 0; c < 5; ++c) padded.push_back(kXentLogits[size_t(n * 5 + c)]);
    for (float big : {50.f, -3.f, 80.f}) padded.push_back(big);
  }
  const SoftmaxOut r = run_xent(padded, kXentTargets, V, 5);
  expect_xent_table(r, V, "padded to V=8");
  const SoftmaxOut ref = run_xent(kXentLogits, kXentTargets, 5, 5);
  for (int n = 0; n < 4; ++n) {
    EXPECT_EQ(r.losses[size_t(n)], ref.losses[size_t(n)]) << "padding changed the loss at " << n;
    for (int c = 0; c < 5; ++c) EXPECT_EQ(r.dlogits[size_t(n * V + c)], ref.dlogits[size_t(n * 5 + c)]);
    for (int c = 5; c < V; ++c) EXPECT_EQ(r.dlogits[size_t(n * V + c)], 0.0f) << "padded column " << c;
  }
}

TEST(WorkedExamples, IgnoredTargetGetsZeroLossAndGradient) {
  std::vector<int32_t> targets = {1, -1, 3, -100};
  const SoftmaxOut r = run_xent(kXentLogits, targets, 5, 5);
  EXPECT_NEAR(r.losses[0], kTokenLoss[0], kTableTol);
  EXPECT_NEAR(r.losses[2], kTokenLoss[2], kTableTol);
  for (int n : {1, 3}) {
    EXPECT_EQ(r.losses[size_t(n)], 0.f);
    for (int c = 0; c < 5; ++c) EXPECT_EQ(r.dlogits[size_t(n * 5 + c)], 0.f) << "row " << n << " col " << c;
  }
}

// Softmax of [3.0, 1.5, -1.0, -2.0, -3.0] at several temperatures (logits / temperature).
std::vector<float> softmax_probs(std::vector<float> logits, float temperature) {
  for (float& x : logits) x /= temperature;
  return run_xent(logits, {0}, int64_t(logits.size()), int(logits.size())).probs;
}

TEST(WorkedExamples, SoftmaxTemperatures) {
  const std::vector<float> logits = {3.0f, 1.5f, -1.0f, -2.0f, -3.0f};
  const struct {
    float temperature;
    double probs[5];
  } cases[] = {{1.0f, {0.800, 0.178, 0.015, 0.005, 0.002}},
               {0.5f, {0.952, 0.047, 0.000, 0.000, 0.000}},
               {2.0f, {0.575, 0.272, 0.078, 0.047, 0.029}}};
  for (const auto& c : cases) {
    const std::vector<float> p = softmax_probs(logits, c.temperature);
    double sum = 0;
    for (int i = 0; i < 5; ++i) {
      EXPECT_NEAR(p[size_t(i)], c.probs[i], kTableTol) << "temperature " << c.temperature << " index " << i;
      sum += p[size_t(i)];
    }
    EXPECT_NEAR(sum, 1.0, 1e-6) << "temperature " << c.temperature;
    for (int i = 1; i < 5; ++i) EXPECT_GT(p[0], p[size_t(i)]) << "argmax is index 0";
  }
  const std::vector<float> p3 = softmax_probs({2.4f, 1.7f, 0.2f}, 1.4f);
  EXPECT_NEAR(p3[0], 0.551, kTableTol);
  EXPECT_NEAR(p3[1], 0.334, kTableTol);
  EXPECT_NEAR(p3[2], 0.115, kTableTol);
}

TEST(WorkedExamples, SoftmaxShiftBy1000IsBitIdentical) {
  // 1003, 1001.5, 999, 998, 997 are exact in fp32, and the kernel only uses x - max, so the
  // shifted call must give the very same bits, not just the same 3 decimals.
  const std::vector<float> logits = {3.0f, 1.5f, -1.0f, -2.0f, -3.0f};
  std::vector<float> shifted = logits;
  for (float& x : shifted) x += 1000.f;
  const SoftmaxOut a = run_xent(logits, {2}, 5, 5), b = run_xent(shifted, {2}, 5, 5);
  EXPECT_EQ(a.losses[0], b.losses[0]);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.dlogits[size_t(i)], b.dlogits[size_t(i)]) << "index " << i;
  EXPECT_NEAR(a.probs[0], 0.800, kTableTol);
  EXPECT_TRUE(std::isfinite(b.losses[0]));
}

}  // namespace
}  // namespace kernels::test
