// tests/trainer/test_training.cpp
// Training behaviour: the loss of a fresh model, memorising one batch, bf16 emulation tracking
// fp32, and a whole `Trainer` run on a small generated corpus (files it writes, loss going down).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "configs/load.h"
#include "data/prepare.h"
#include "kernels/rng.h"
#include "tests/common/test_support.h"
#include "tests/trainer/trainer_test_util.h"
#include "trainer/optimizer.h"
#include "trainer/trainer.h"
#include "tests/common/one_rank.h"

namespace {

namespace fs = std::filesystem;
using kernels::Device;
using kernels::DType;

configs::ModelConfig small_model(int vocab) { return trainer_test::small_model(vocab, 16, 32, 128); }
using trainer_test::random_windows;

// Runs `steps` AdamW steps on the same batch; returns the loss before each step.
std::vector<double> fit_one_batch(DType compute, int steps, double lr) {
  const configs::ModelConfig cfg = small_model(64);
  const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
  model::Gpt2Model model(cfg, 64, 4, ops, Device::kCpu, {compute, DType::F32}, kiln_test::self_comm());
  model.params().init(1337, ops);
  configs::OptimConfig oc;
  oc.weight_decay = 0.0;
  trainer::AdamW opt(oc, model.params(), ops, {0, model.params().total_elements()});
  const std::vector<int32_t> batch = random_windows(4, cfg.seq_len, 64, 11);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    model.params().zero_grads(ops);
    losses.push_back(model.forward(batch));
    model.backward(1.0f);
    trainer::adamw_step_one_rank(opt, lr, 1.0);
  }
  losses.push_back(model.forward(batch));
  return losses;
}

TEST(Training, FreshModelLossIsLogVocab) {
  for (int vocab : {64, 256}) {
    const configs::ModelConfig cfg = small_model(vocab + 64);  // padded columns must not count
    const kernels::Ops& ops = kernels::ops_for(Device::kCpu);
    model::Gpt2Model model(cfg, vocab, 4, ops, Device::kCpu, {DType::F32, DType::F32}, kiln_test::self_comm());
    model.params().init(42, ops);
    const double loss = model.forward(random_windows(4, cfg.seq_len, vocab, 9));
    EXPECT_NEAR(loss, std::log(double(vocab)), 0.05) << "vocab " << vocab;
  }
}

TEST(Training, OverfitsOneBatch) {
  const std::vector<double> losses = fit_one_batch(DType::F32, 150, 3e-3);
  std::printf("overfit one batch: loss %.4f -> %.4f after %zu steps\n", losses.front(), losses.back(), losses.size() - 1);
  EXPECT_NEAR(losses.front(), std::log(64.0), 0.05);
  EXPECT_LT(losses.back(), 0.1);
}

TEST(Training, Bf16EmulationTracksFp32) {
  const std::vector<double> f32 = fit_one_batch(DType::F32, 20, 1e-3);
  const std::vector<double> b16 = fit_one_batch(DType::BF16, 20, 1e-3);
  double worst = 0;
  for (size_t i = 0; i < f32.size(); ++i) worst = std::max(worst, std::fabs(b16[i] - f32[i]) / f32[i]);
  std::printf("bf16 vs fp32 over 20 steps: worst relative loss difference %.3e\n", worst);
  EXPECT_LT(worst, 2e-2);
  EXPECT_GT(worst, 0.0) << "bf16 path identical to fp32: emulation is not rounding anything";
  EXPECT_LT(b16.back(), b16.front() - 0.5) << "bf16 training must still learn";
}

// A corpus with structure a model can learn quickly: repeated sentences with small variations.
void write_corpus(const std::string& dir, int docs) {
  fs::create_directories(dir);
  const char* words[] = {"the whale ", "swims ", "under ", "a grey sea ", "and the ship ", "sails ", "north. "};
  for (int d = 0; d < docs; ++d) {
    std::ofstream f(dir + "/doc_" + std::to_string(d) + ".txt");
    for (int i = 0; i < 300; ++i) f << words[(i * 3 + d) % 7] << words[(i + d) % 7];
  }
}

TEST(Training, TrainerRunWritesRunFolderAndLearns) {
  const std::string dir = kiln_test::scratch_dir("trainer");
  write_corpus(dir + "/text", 12);
  data::PrepareOptions po;
  po.inputs = {dir + "/text"};
  po.out_dir = dir + "/shards";
  po.val_fraction = 0.2;
  data::prepare(po);

  configs::Config cfg;
  cfg.run.out_dir = dir + "/runs";
  cfg.run.name = "t";
  cfg.model = small_model(256);
  cfg.model.seq_len = 32;
  cfg.data.train = dir + "/shards/train_*.h5";
  cfg.data.val = dir + "/shards/val_*.h5";
  cfg.train.device = "cpu";
  cfg.train.precision = "fp32";
  cfg.train.micro_batch = 4;
  cfg.train.global_batch = 8;  // two accumulation steps
  cfg.train.max_steps = 40;
  cfg.train.log_every = 10;
  cfg.optim.lr = 3e-3;
  cfg.optim.warmup_steps = 5;
  cfg.eval.every = 20;
  cfg.eval.batches = 4;
  trainer::Trainer t(cfg, kiln_test::one_rank_cpu());
  const trainer::RunSummary s = t.run();

  const std::string run = dir + "/runs/t";
  EXPECT_TRUE(fs::exists(run + "/config.yaml"));
  EXPECT_EQ(configs::load_config(run + "/config.yaml"), cfg) << "resolved config must load back equal";
  std::ifstream mf(run + "/metrics.jsonl"), ef(run + "/eval.jsonl");
  std::vector<nlohmann::json> m, e;
  for (std::string line; std::getline(mf, line);) m.push_back(nlohmann::json::parse(line));
  for (std::string line; std::getline(ef, line);) e.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(m.size(), 5u);  // steps 1, 10, 20, 30, 40
  ASSERT_EQ(e.size(), 2u);  // steps 20, 40
  for (const char* k : {"step", "tokens", "loss", "lr", "grad_norm", "step_time_s", "tokens_per_s", "mfu", "skipped_steps"})
    EXPECT_TRUE(m.back().contains(k)) << k;
  EXPECT_EQ(m.back()["step"], 40);
  EXPECT_EQ(m.back()["tokens"], 40 * 8 * 32);
  for (const char* k : {"step", "tokens", "val_loss", "val_perplexity", "val_bits_per_byte"}) EXPECT_TRUE(e.back().contains(k)) << k;
  const double vl = e.back()["val_loss"];
  EXPECT_NEAR(double(e.back()["val_perplexity"]), std::exp(vl), 1e-9 * std::exp(vl));
  EXPECT_NEAR(double(e.back()["val_bits_per_byte"]), vl / std::log(2.0), 1e-9);  // byte tokenizer
  EXPECT_LT(double(m.back()["loss"]), double(m.front()["loss"]) - 1.0);
  EXPECT_LT(s.final_eval.loss, std::log(256.0) - 1.0);
}

TEST(Training, SameSeedSameLosses) {
  // Determinism is what later layouts and resumes are checked against.
  const std::vector<double> a = fit_one_batch(DType::F32, 5, 1e-3), b = fit_one_batch(DType::F32, 5, 1e-3);
  EXPECT_EQ(a, b);
}

}  // namespace
