// tests/trainer/test_resume.cpp
// Resuming on the CPU (CONTRACTS §5): N steps, stop with a checkpoint, resume, M more steps gives
// per-step losses bit-identical to N + M steps straight; the metrics files then hold every step
// once; an explicit resume path that is not a checkpoint exits with an InputError.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/prepare.h"
#include "tests/common/test_support.h"
#include "tests/trainer/trainer_test_util.h"
#include "trainer/trainer.h"
#include "tests/common/one_rank.h"

namespace {

namespace fs = std::filesystem;

configs::Config resume_config(const std::string& dir, const std::string& name) {
  if (!fs::exists(dir + "/shards"))
    trainer_test::prepare_phrase_corpus(dir, 5, 300, [](int i, int d) {
      return (i * 7 + d) % 5 ? "to be or not to be. " : "that is the question! ";
    });
  configs::Config c = trainer_test::cpu_run_config(dir, name, /*n_head=*/2);
  c.train.global_batch = 4;
  c.train.max_steps = 16;
  c.train.log_every = 1;
  c.eval.every = 4;
  c.checkpoint.every = 5;
  c.checkpoint.keep_last = 2;
  return c;
}

std::vector<int> steps_in(const std::string& path) {
  std::vector<int> steps;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) steps.push_back(nlohmann::json::parse(line)["step"].get<int>());
  return steps;
}

TEST(Resume, StopResumeContinueIsBitIdenticalToStraight) {
  for (const char* precision : {"fp32", "bf16"}) {
    const std::string dir = kiln_test::scratch_dir("trainer") + "/" + precision;
    configs::Config straight_cfg = resume_config(dir, "straight"), split_cfg = resume_config(dir, "split");
    straight_cfg.train.precision = split_cfg.train.precision = precision;
    const std::vector<double> straight = trainer::Trainer(straight_cfg, kiln_test::one_rank_cpu()).run().losses;

    trainer::RunSummary first = trainer::Trainer(split_cfg, kiln_test::one_rank_cpu()).run(/*stop_at_step=*/7);
    EXPECT_TRUE(first.stopped_by_signal);
    ASSERT_EQ(first.losses.size(), 7u);
    EXPECT_TRUE(fs::exists(dir + "/runs/split/checkpoints/step_00000007/manifest.yaml"));
    trainer::RunSummary second = trainer::Trainer(split_cfg, kiln_test::one_rank_cpu()).run();
    EXPECT_EQ(second.resumed_from_step, 7);
    std::vector<double> joined = first.losses;
    joined.insert(joined.end(), second.losses.begin(), second.losses.end());
    ASSERT_EQ(joined.size(), straight.size());
    for (size_t i = 0; i < straight.size(); ++i)
      EXPECT_EQ(joined[i], straight[i]) << precision << ": step " << i + 1 << " differs after resume";

    // Each step once in the metrics; evaluations at 4, 8, 12, 16; keep_last 2 left the newest two.
    std::vector<int> want(16);
    for (int i = 0; i < 16; ++i) want[size_t(i)] = i + 1;
    EXPECT_EQ(steps_in(dir + "/runs/split/metrics.jsonl"), want);
    EXPECT_EQ(steps_in(dir + "/runs/split/eval.jsonl"), (std::vector<int>{4, 8, 12, 16}));
    EXPECT_TRUE(fs::exists(dir + "/runs/split/checkpoints/step_00000016"));
    EXPECT_TRUE(fs::exists(dir + "/runs/split/checkpoints/step_00000015"));
    EXPECT_FALSE(fs::exists(dir + "/runs/split/checkpoints/step_00000010"));
  }
}

TEST(Resume, ExplicitPathMustBeACheckpoint) {
  const std::string dir = kiln_test::scratch_dir("trainer");
  configs::Config c = resume_config(dir, "explicit");
  c.checkpoint.resume = dir + "/no-such-checkpoint";
  const std::string msg = kiln_test::input_error_of([&] { trainer::Trainer t(c, kiln_test::one_rank_cpu()); });
  EXPECT_HAS(msg, "no-such-checkpoint");
}

TEST(Resume, CheckpointOfAnotherModelIsRefusedNamingTheTensor) {
  const std::string dir = kiln_test::scratch_dir("trainer");
  configs::Config c = resume_config(dir, "shape");
  c.train.max_steps = 5;
  trainer::Trainer(c, kiln_test::one_rank_cpu()).run();
  c.model.d_ff = 128;  // same run folder, different model: resume auto must refuse, not adopt
  const std::string msg = kiln_test::input_error_of([&] { trainer::Trainer t(c, kiln_test::one_rank_cpu()); });
  EXPECT_HAS(msg, "mlp.c_fc.weight");
  EXPECT_HAS(msg, "128");
}

}  // namespace
