// tests/trainer/test_guards.cpp
// The numeric guards and the replay check (trainer/guards.h, trainer/replay_check.h) on one rank:
// verdicts and the spike detector against hand-computed numbers, the finiteness scan of every
// dtype, and whole runs with test-only faults (KILN_TEST_FAULT): a NaN gradient skips exactly that
// step and leaves the weights as they were, the run goes on; max_skipped_steps in a row stop it;
// the replay check never fires on kiln's deterministic kernels and does not change a single loss,
// and a forced mismatch stops the run. The multi-rank and CLI sides are in
// tests/tools/test_guards_cli.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "kernels/finite.h"
#include "tests/common/one_rank.h"
#include "tests/common/test_support.h"
#include "tests/trainer/trainer_test_util.h"
#include "trainer/fault_injection.h"
#include "trainer/guards.h"
#include "trainer/trainer.h"

namespace {

namespace fs = std::filesystem;
using trainer::StepVerdict;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Sets KILN_TEST_FAULT for the lifetime of the object (the trainer reads it when constructed).
struct FaultEnv {
  explicit FaultEnv(const char* spec) { setenv("KILN_TEST_FAULT", spec, 1); }
  ~FaultEnv() { unsetenv("KILN_TEST_FAULT"); }
};

configs::Config guard_config(const std::string& name) {
  const std::string dir = kiln_test::scratch_dir("guards");
  if (!fs::exists(dir + "/shards"))
    trainer_test::prepare_phrase_corpus(dir, 4, 200, [](int i, int d) {
      return (i * 3 + d) % 4 ? "the whale, the whale! " : "call me ishmael. ";
    });
  configs::Config c = trainer_test::cpu_run_config(dir, name, /*n_head=*/2);
  c.train.global_batch = 4;  // 2 micro-batches per step
  c.train.max_steps = 8;
  c.train.log_every = 1;
  c.eval.every = 0;
  c.checkpoint.every = 0;
  c.checkpoint.resume = "none";
  return c;
}

std::vector<float> master_copy(trainer::Trainer& t) {
  const kernels::Tensor m = t.model().params().all_master();
  return std::vector<float>(m.as<float>(), m.as<float>() + m.numel());
}

TEST(LossSpike, ZScoreAgainstTheWindowBeforeIt) {
  trainer::LossSpikeDetector d(4);
  for (double x : {1.0, 2.0, 3.0, 4.0}) EXPECT_TRUE(std::isnan(d.update(x))) << "window not full yet";
  // mean 2.5, population sd sqrt(1.25) = 1.118034; (10 - 2.5) / 1.118034 = 6.708204
  EXPECT_NEAR(d.update(10.0), 6.708204, 1e-6);
  // The spike entered the window: {2, 3, 4, 10}, mean 4.75, sd 3.0516; z(4.75) = 0
  EXPECT_NEAR(d.update(4.75), 0.0, 1e-12);
}

TEST(NumericGuard, VerdictsAndTheCountInARow) {
  configs::TrainConfig tc;
  tc.max_skipped_steps = 3;
  tc.loss_spike_zscore = 5;
  tc.loss_spike_window = 4;
  trainer::NumericGuard g(tc);
  trainer::LossScaler fp32;  // inactive
  EXPECT_EQ(g.judge(1, 3.0, 1.0, fp32), StepVerdict::kOk);
  EXPECT_EQ(g.judge(2, kNaN, 1.0, fp32), StepVerdict::kNonFinite) << "a NaN loss with finite gradients";
  EXPECT_EQ(g.judge(3, 3.0, kInf, fp32), StepVerdict::kNonFinite);
  EXPECT_EQ(g.faults_in_row(), 2);
  EXPECT_FALSE(g.must_stop());
  EXPECT_EQ(g.judge(4, 3.0, kNaN, fp32), StepVerdict::kNonFinite);
  EXPECT_TRUE(g.must_stop()) << "3 in a row = train.max_skipped_steps";
  EXPECT_NE(g.stop_message(4).find("steps 2 to 4"), std::string::npos) << g.stop_message(4);
  EXPECT_EQ(g.judge(5, 3.0, 1.0, fp32), StepVerdict::kOk);
  EXPECT_EQ(g.faults_in_row(), 0) << "a good step resets the count";

  // fp16: overflow while the scale can still halve is expected, and does not count.
  trainer::LossScaler fp16 = trainer::LossScaler::for_precision(kernels::DType::F16);
  EXPECT_EQ(g.judge(6, 3.0, kInf, fp32), StepVerdict::kNonFinite);
  EXPECT_EQ(g.judge(7, 3.0, kInf, fp16), StepVerdict::kOverflow);
  EXPECT_EQ(g.faults_in_row(), 1) << "an fp16 overflow neither counts nor resets";
  fp16.scale = 1.0;
  EXPECT_EQ(g.judge(8, 3.0, kInf, fp16), StepVerdict::kNonFinite) << "at scale 1 halving cannot help";
  EXPECT_EQ(g.judge(9, kNaN, 1.0, fp16), StepVerdict::kNonFinite) << "a non-finite loss is a fault in fp16 too";
}

TEST(NumericGuard, LossSpikeSkipsOnlyAboveTheThreshold) {
  configs::TrainConfig tc;
  tc.loss_spike_zscore = 5;
  tc.loss_spike_window = 4;
  trainer::NumericGuard g(tc);
  trainer::LossScaler s;
  for (double x : {1.0, 2.0, 3.0, 4.0}) EXPECT_EQ(g.judge(1, x, 1.0, s), StepVerdict::kOk);
  EXPECT_EQ(g.judge(5, 10.0, 1.0, s), StepVerdict::kLossSpike);  // z = 6.708 > 5
  EXPECT_NEAR(g.zscore(), 6.708204, 1e-6);
  EXPECT_EQ(g.judge(6, 4.75, 1.0, s), StepVerdict::kOk);
  configs::TrainConfig off;  // loss_spike_zscore 0: never
  trainer::NumericGuard quiet(off);
  for (int i = 0; i < 200; ++i) quiet.judge(i + 1, 1.0 + 0.001 * (i % 2), 1.0, s);
  EXPECT_EQ(quiet.judge(201, 1e6, 1.0, s), StepVerdict::kOk);
}

TEST(Finite, ScanFindsTheFirstNonFiniteOfEveryDtype) {
  std::vector<float> f = {1, -3, std::numeric_limits<float>::infinity(), 2, NAN};
  kernels::FiniteScan s = kernels::scan_finite(f.data(), kernels::DType::F32, 5);
  EXPECT_EQ(s.first_bad, 2);
  EXPECT_EQ(s.bad, 2);
  EXPECT_EQ(s.max_abs, 3.0);
  std::vector<double> d = {0.5, -0.25};
  EXPECT_TRUE(kernels::scan_finite(d.data(), kernels::DType::F64, 2).finite());
  d[1] = -kInf;
  EXPECT_EQ(kernels::scan_finite(d.data(), kernels::DType::F64, 2).first_bad, 1);
  // bf16: 0x3F80 = 1, 0x7F80 = +inf, 0xFFC0 = NaN; fp16: 0x3C00 = 1, 0x7C00 = +inf, 0x7BFF = 65504 (finite)
  std::vector<uint16_t> b = {0x3F80, 0x3F80, 0xFFC0, 0x7F80};
  s = kernels::scan_finite(b.data(), kernels::DType::BF16, 4);
  EXPECT_EQ(s.first_bad, 2);
  EXPECT_EQ(s.bad, 2);
  std::vector<uint16_t> h = {0x3C00, 0x7BFF, 0x7C00};
  s = kernels::scan_finite(h.data(), kernels::DType::F16, 3);
  EXPECT_EQ(s.first_bad, 2);
  EXPECT_EQ(s.max_abs, 65504.0);
}

TEST(Finite, CheckBeforeSaveNamesThePieceAndElement) {
  std::vector<float> a = {1, 2, 3}, b = {4, 5, 6};
  std::vector<checkpoint::Piece> pieces(2);
  pieces[0].tensor = "master/wte", pieces[0].data = a.data(), pieces[0].count = 3;
  pieces[1].tensor = "adam_v/h.0.ln_1.weight", pieces[1].data = b.data(), pieces[1].count = 3;
  pieces[1].local_begin = 100;
  EXPECT_EQ(trainer::first_non_finite(pieces), "");
  b[1] = NAN;
  const std::string bad = trainer::first_non_finite(pieces);
  EXPECT_NE(bad.find("adam_v/h.0.ln_1.weight element 101"), std::string::npos) << bad;
}

TEST(FaultInjection, MalformedValuesNameTheVariable) {
  for (const char* spec : {"nan_grad", "nan_grad@x:0", "boom@3:0", "stall@3"}) {
    try {
      trainer::FaultInjection f(spec, 0);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const kernels::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("KILN_TEST_FAULT"), std::string::npos) << e.what();
    }
  }
  trainer::FaultInjection ok("nan_grad@5-7:1;replay_mismatch@2:0", 0);
  EXPECT_TRUE(ok.perturb_replay(2));
  EXPECT_FALSE(ok.perturb_replay(3));
}

TEST(GuardedRun, NanGradientSkipsThatStepOnlyAndTheRunGoesOn) {
  const configs::Config clean_cfg = guard_config("clean");
  trainer::Trainer clean(clean_cfg, kiln_test::one_rank_cpu());
  std::vector<trainer::StepResult> clean_steps;
  for (int s = 0; s < 3; ++s) clean_steps.push_back(clean.train_step());
  const std::vector<float> after_two_clean = [&] {
    trainer::Trainer t(clean_cfg, kiln_test::one_rank_cpu());
    t.train_step();
    t.train_step();
    return master_copy(t);
  }();

  FaultEnv env("nan_grad@3:0");
  trainer::Trainer t(guard_config("nan3"), kiln_test::one_rank_cpu());
  for (int s = 0; s < 2; ++s) EXPECT_EQ(t.train_step().loss, clean_steps[size_t(s)].loss) << "step " << s + 1;
  const std::vector<float> before = master_copy(t);
  EXPECT_EQ(before, after_two_clean);
  const trainer::StepResult r3 = t.train_step();
  EXPECT_EQ(r3.verdict, StepVerdict::kNonFinite);
  EXPECT_TRUE(r3.stats.skipped);
  EXPECT_TRUE(std::isnan(r3.stats.grad_norm));
  EXPECT_EQ(r3.loss, clean_steps[2].loss) << "the loss was finite; only a gradient was poisoned";
  EXPECT_EQ(master_copy(t), before) << "a skipped step leaves every weight as it was";
  const trainer::StepResult r4 = t.train_step();
  EXPECT_EQ(r4.verdict, StepVerdict::kOk);
  EXPECT_TRUE(std::isfinite(r4.loss));
  EXPECT_NE(master_copy(t), before);
}

TEST(GuardedRun, ALossSpikeIsSkippedAndANanLossToo) {
  FaultEnv env("spike@7:0;nan_loss@9:0");
  configs::Config c = guard_config("spike");
  c.train.max_steps = 10;
  c.train.loss_spike_zscore = 6;
  c.train.loss_spike_window = 4;
  trainer::Trainer t(c, kiln_test::one_rank_cpu());
  for (int s = 1; s <= 6; ++s) EXPECT_EQ(t.train_step().verdict, StepVerdict::kOk) << "step " << s;
  std::vector<float> before = master_copy(t);
  const trainer::StepResult r7 = t.train_step();
  EXPECT_EQ(r7.verdict, StepVerdict::kLossSpike) << "loss x100 against a window of ~5.3";
  EXPECT_TRUE(std::isfinite(r7.stats.grad_norm));
  EXPECT_EQ(master_copy(t), before) << "a skipped spike changes no weight";
  EXPECT_EQ(t.train_step().verdict, StepVerdict::kOk) << "the spike entered the window; step 8 is normal";
  before = master_copy(t);
  const trainer::StepResult r9 = t.train_step();
  EXPECT_EQ(r9.verdict, StepVerdict::kNonFinite);
  EXPECT_TRUE(std::isnan(r9.loss));
  EXPECT_EQ(master_copy(t), before);
  EXPECT_EQ(t.train_step().verdict, StepVerdict::kOk);
}

TEST(GuardedRun, MaxSkippedStepsInARowStopTheRunWithoutACheckpoint) {
  FaultEnv env("nan_grad@3-20:0");
  configs::Config c = guard_config("stop");
  c.train.max_steps = 20;
  c.train.max_skipped_steps = 4;
  c.checkpoint.every = 1;
  const trainer::RunSummary s = trainer::Trainer(c, kiln_test::one_rank_cpu()).run();
  EXPECT_EQ(s.steps, 6) << "steps 3, 4, 5, 6 skipped: the 4th in a row stops";
  EXPECT_NE(s.guard_stop.find("training stopped at step 6: 4 steps in a row were skipped (steps 3 to 6"),
            std::string::npos)
      << s.guard_stop;
  const std::string ck = c.run.out_dir + "/" + c.run.name + "/checkpoints";
  EXPECT_TRUE(fs::exists(ck + "/step_00000005")) << "skipped steps change nothing non-finite: saved";
  EXPECT_FALSE(fs::exists(ck + "/step_00000006")) << "a run stopped by a guard writes no final checkpoint";
}

TEST(GuardedRun, Fp16OverflowsCountOnlyOnceTheScaleCannotHalve) {
  // Non-finite gradients from step 3 on, in fp16: 16 overflows halve the scale from 2^16 to 1
  // (steps 3..18, expected, not counted); from step 19 at scale 1 they are faults, and the 4th
  // in a row (step 22) stops the run.
  FaultEnv env("nan_grad@3-40:0");
  configs::Config c = guard_config("fp16");
  c.train.precision = "fp16";
  c.train.max_steps = 40;
  c.train.max_skipped_steps = 4;
  const trainer::RunSummary s = trainer::Trainer(c, kiln_test::one_rank_cpu()).run();
  EXPECT_EQ(s.steps, 22);
  EXPECT_NE(s.guard_stop.find("4 steps in a row were skipped (steps 19 to 22"), std::string::npos) << s.guard_stop;
}

TEST(GuardedRun, NonFiniteWeightsAreNeverCheckpointed) {
  configs::Config c = guard_config("inf_lr");
  c.optim.lr = 1e300;  // float(lr) = inf: the first update makes the weights NaN
  c.optim.min_lr = 0;
  c.checkpoint.every = 1;
  const trainer::RunSummary s = trainer::Trainer(c, kiln_test::one_rank_cpu()).run();
  EXPECT_EQ(s.steps, 1);
  EXPECT_NE(s.guard_stop.find("checkpoint step 1 not written"), std::string::npos) << s.guard_stop;
  EXPECT_FALSE(fs::exists(c.run.out_dir + "/" + c.run.name + "/checkpoints/step_00000001"));
}

TEST(ReplayCheck, PassesOnDeterministicKernelsAndChangesNoLoss) {
  for (const char* precision : {"fp32", "bf16"}) {
    configs::Config off = guard_config(std::string("replay_off_") + precision);
    off.train.precision = precision;
    configs::Config on = off;
    on.run.name = std::string("replay_on_") + precision;
    on.train.replay_check_every = 1;
    const trainer::RunSummary a = trainer::Trainer(off, kiln_test::one_rank_cpu()).run();
    const trainer::RunSummary b = trainer::Trainer(on, kiln_test::one_rank_cpu()).run();
    EXPECT_TRUE(b.guard_stop.empty()) << b.guard_stop;
    ASSERT_EQ(a.losses.size(), b.losses.size());
    for (size_t i = 0; i < a.losses.size(); ++i) EXPECT_EQ(a.losses[i], b.losses[i]) << precision << " step " << i + 1;
  }
}

TEST(ReplayCheck, AForcedMismatchStopsTheRun) {
  FaultEnv env("replay_mismatch@4:0");
  configs::Config c = guard_config("replay_bad");
  c.train.replay_check_every = 2;
  c.checkpoint.every = 1;
  const trainer::RunSummary s = trainer::Trainer(c, kiln_test::one_rank_cpu()).run();
  EXPECT_EQ(s.steps, 4);
  EXPECT_NE(s.guard_stop.find("the replay check failed"), std::string::npos) << s.guard_stop;
  EXPECT_FALSE(fs::exists(c.run.out_dir + "/" + c.run.name + "/checkpoints/step_00000004"))
      << "the state a failed replay check saw is not checkpointed";
}

}  // namespace
