// tests/trainer/test_schedule_eval.cpp
// Learning-rate schedules at their landmarks, and the evaluator's arithmetic on the worked
// examples (WORKED-EXAMPLES.md: perplexity, bits per byte).
#include <gtest/gtest.h>

#include <cmath>

#include "trainer/evaluator.h"
#include "model/flops.h"
#include "trainer/lr_schedule.h"

namespace {

configs::OptimConfig optim(const char* schedule) {
  configs::OptimConfig o;
  o.lr = 1e-3;
  o.min_lr = 1e-4;
  o.warmup_steps = 10;
  o.schedule = schedule;
  return o;
}

TEST(LrSchedule, WarmupThenCosine) {
  const auto o = optim("cosine");
  EXPECT_DOUBLE_EQ(trainer::learning_rate(o, 0, 110), 1e-4);   // (0+1)/10 of lr
  EXPECT_DOUBLE_EQ(trainer::learning_rate(o, 9, 110), 1e-3);
  EXPECT_DOUBLE_EQ(trainer::learning_rate(o, 10, 110), 1e-3);  // decay starts at lr
  EXPECT_NEAR(trainer::learning_rate(o, 60, 110), 5.5e-4, 1e-12);  // halfway: mean of lr and min_lr
  EXPECT_NEAR(trainer::learning_rate(o, 110, 110), 1e-4, 1e-12);
  EXPECT_NEAR(trainer::learning_rate(o, 500, 110), 1e-4, 1e-12);   // clamps past the end
}

TEST(LrSchedule, LinearAndConstant) {
  EXPECT_NEAR(trainer::learning_rate(optim("linear"), 35, 110), 1e-3 - 0.25 * 9e-4, 1e-12);
  EXPECT_DOUBLE_EQ(trainer::learning_rate(optim("constant"), 100, 110), 1e-3);
  EXPECT_DOUBLE_EQ(trainer::learning_rate(optim("constant"), 4, 110), 5e-4);
}

TEST(Evaluator, WorkedPerplexityExample) {
  // true-token probabilities [0.5, 0.5, 0.5, 0.125] -> mean loss 1.0397, perplexity 2.8284
  double nats = 0;
  for (double p : {0.5, 0.5, 0.5, 0.125}) nats -= std::log(p);
  const formats::EvalResult r = formats::summarize_eval(nats, 4, 4);
  EXPECT_NEAR(r.loss, 1.0397, 5e-5);
  EXPECT_NEAR(r.perplexity, 2.8284, 5e-5);
  EXPECT_NEAR(r.perplexity, 1.0 / std::pow(0.5 * 0.5 * 0.5 * 0.125, 0.25), 1e-12);
  EXPECT_NEAR(r.bits_per_byte, r.loss / std::log(2.0), 1e-12);  // one byte per token
  // Uniform over V tokens: perplexity V; with 2-byte tokens bits per byte halves.
  const formats::EvalResult u = formats::summarize_eval(10 * std::log(6.0), 10, 20);
  EXPECT_NEAR(u.perplexity, 6.0, 1e-12);
  EXPECT_NEAR(u.bits_per_byte, std::log2(6.0) / 2, 1e-12);
}

TEST(Flops, Gpt2SmallMatchesTheIssueFormula) {
  configs::ModelConfig m;  // defaults are GPT-2 124M with vocab 50304
  const int64_t n = model::param_count_without_positions(m);
  EXPECT_EQ(n, 124475904 - 1024 * 768);  // llm.c's 124,475,904 parameters minus wpe
  EXPECT_DOUBLE_EQ(model::flops_per_token(m), 6.0 * double(n) + 12.0 * 12 * 768 * 1024);
}

}  // namespace
