// tests/configs/test_override_validate.cpp
// Command-line overrides (configs::apply_override, load_config's overrides) and the value rules
// of configs::validate / accumulation_steps. Each failing case asserts that the message names the
// dotted key, the offending value and what was expected, since that is what a user sees (exit 2).
// File loading is in test_load.cpp.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "configs/load.h"
#include "configs/validate.h"
#include "kernels/check.h"
#include "tests/common/test_support.h"

using configs::Config;

namespace {

using kiln_test::input_error_of;


Config overridden(const std::vector<std::string>& assignments) {
  Config c;
  for (const auto& a : assignments) configs::apply_override(c, a);
  return c;
}

std::string override_error(const std::string& assignment) {
  return input_error_of([&] { overridden({assignment}); });
}

std::string preset(const char* name) { return std::string(KILN_SOURCE_DIR) + "/configs/" + name; }

}  // namespace

TEST(ConfigOverride, EachFieldType) {
  const Config c = overridden({"run.name=my run", "run.seed=9000000000", "model.n_layer=6",
                               "optim.lr=3e-4", "optim.min_lr=0", "optim.grad_clip=2",
                               "model.tie_embeddings=false", "checkpoint.resume=/ckpt/step_00000020"});
  EXPECT_EQ(c.run.name, "my run");
  EXPECT_EQ(c.run.seed, 9000000000LL);
  EXPECT_EQ(c.model.n_layer, 6);
  EXPECT_EQ(c.optim.lr, 3e-4);
  EXPECT_EQ(c.optim.min_lr, 0.0);
  EXPECT_EQ(c.optim.grad_clip, 2.0);
  EXPECT_FALSE(c.model.tied());
  EXPECT_EQ(c.checkpoint.resume, "/ckpt/step_00000020");
}

TEST(ConfigOverride, ValueIsEverythingAfterTheFirstEquals) {
  EXPECT_EQ(overridden({"run.name=a=b"}).run.name, "a=b");
  EXPECT_EQ(overridden({"data.train="}).data.train, "");
  EXPECT_EQ(overridden({"optim.lr=1e-3", "optim.lr=2e-3"}).optim.lr, 2e-3);  // the last one wins
}

TEST(ConfigOverride, UnknownKeyIsNamedWithTheKnownOnes) {
  const std::string msg = override_error("optim.learning_rate=3e-4");
  EXPECT_HAS(msg, "override 'optim.learning_rate=3e-4': unknown key 'optim.learning_rate'");
  EXPECT_HAS(msg, "optim has: lr, min_lr, warmup_steps");
  EXPECT_HAS(override_error("optimizer.lr=1"), "unknown key 'optimizer.lr' (sections are: run, model");
  EXPECT_HAS(override_error("optim.lr.x=1"), "unknown key 'optim.lr.x'");
  EXPECT_HAS(override_error("seed=1"), "unknown key 'seed'");
  EXPECT_HAS(override_error("optim=1"), "'optim' is a section; name one of its keys");
}

TEST(ConfigOverride, BadValueNamesKeyValueAndType) {
  EXPECT_HAS(override_error("model.n_layer=twelve"), "model.n_layer: expected an integer, got 'twelve'");
  EXPECT_HAS(override_error("model.n_layer=3.5"), "model.n_layer: expected an integer, got '3.5'");
  EXPECT_HAS(override_error("model.n_layer="), "model.n_layer: expected an integer, got ''");
  EXPECT_HAS(override_error("optim.lr=fast"), "optim.lr: expected a number, got 'fast'");
  EXPECT_HAS(override_error("model.tie_embeddings=yes"), "model.tie_embeddings: expected true or false, got 'yes'");
}

TEST(ConfigOverride, MissingEqualsSign) {
  EXPECT_HAS(override_error("optim.lr"), "override 'optim.lr': expected section.key=value");
  EXPECT_HAS(override_error("=3"), "override '=3': expected section.key=value");
}

TEST(ConfigOverride, LoadConfigAppliesOverridesThenValidates) {
  const Config c = configs::load_config(preset("gpt2-124m.yaml"), {"parallel.tp=2", "run.out_dir=/tmp/r"});
  EXPECT_EQ(c.parallel.tp, 2);
  EXPECT_EQ(c.run.out_dir, "/tmp/r");
  EXPECT_EQ(c.model.n_layer, 12);
  const std::string msg = input_error_of([] { configs::load_config(preset("gpt2-124m.yaml"), {"parallel.tp=0"}); });
  EXPECT_HAS(msg, "gpt2-124m.yaml (with overrides): invalid config: parallel.tp: expected an integer >= 1, got 0");
}

// One rule per row: an override that breaks it, and the message parts a user must see.
struct Rule {
  const char* assignment;
  const char* expected;
};

TEST(ConfigValidate, EachRuleNamesKeyValueAndExpectation) {
  const Rule rules[] = {
      {"model.arch=bert", "model.arch: expected one of gpt2, llama, got 'bert'"},
      // Keys only llama has, in a gpt2 config: the message names both architectures.
      {"model.n_kv_head=4", "model.n_kv_head: expected no value: it is a model.arch llama key, and this config has "
                            "model.arch gpt2, got 4"},
      {"model.rope_theta=500000", "model.rope_theta: expected no value: it is a model.arch llama key, and this "
                                  "config has model.arch gpt2, got 5.0e+05"},
      {"model.norm_eps=1e-6", "model.norm_eps: expected no value: it is a model.arch llama key, and this config "
                              "has model.arch gpt2, got 1.0e-06"},
      {"train.device=gpu", "train.device: expected one of auto, cpu, cuda, cudasim, got 'gpu'"},
      {"train.precision=fp8", "train.precision: expected one of auto, fp32, bf16, fp16, got 'fp8'"},
      {"optim.schedule=step", "optim.schedule: expected one of cosine, linear, constant, got 'step'"},
      {"parallel.zero=2", "parallel.zero: expected 0 or 1, got 2"},
      {"parallel.tp=0", "parallel.tp: expected an integer >= 1, got 0"},
      {"parallel.tp=5", "parallel.tp: expected a divisor of model.n_head (12), got 5"},
      {"train.global_batch=500", "train.global_batch: expected a multiple of train.micro_batch (16), got 500"},
      {"model.d_model=770", "model.d_model: expected a multiple of model.n_head (12), got 770"},
      {"model.n_layer=0", "model.n_layer: expected an integer >= 1, got 0"},
      {"model.vocab_size=-1", "model.vocab_size: expected an integer >= 1, got -1"},
      {"model.seq_len=0", "model.seq_len: expected an integer >= 1, got 0"},
      {"model.d_ff=0", "model.d_ff: expected an integer >= 1, got 0"},
      {"train.micro_batch=0", "train.micro_batch: expected an integer >= 1, got 0"},
      {"train.max_steps=0", "train.max_steps: expected an integer >= 1, got 0"},
      {"train.log_every=0", "train.log_every: expected an integer >= 1, got 0"},
      {"optim.lr=-1e-3", "optim.lr: expected a number >= 0.0, got -0.001"},
      {"optim.min_lr=1e-3", "optim.min_lr: expected a number <= optim.lr (6.0e-04), got 0.001"},
      {"optim.warmup_steps=-1", "optim.warmup_steps: expected an integer >= 0, got -1"},
      {"optim.beta1=1", "optim.beta1: expected a number in [0, 1), got 1.0"},
      {"optim.beta2=-0.5", "optim.beta2: expected a number in [0, 1), got -0.5"},
      {"optim.eps=0", "optim.eps: expected a number > 0.0, got 0.0"},
      {"optim.weight_decay=-0.1", "optim.weight_decay: expected a number >= 0.0, got -0.1"},
      {"optim.grad_clip=-1", "optim.grad_clip: expected a number >= 0.0, got -1.0"},
      {"eval.every=-1", "eval.every: expected an integer >= 0, got -1"},
      {"eval.batches=0", "eval.batches: expected an integer >= 1, got 0"},
      {"checkpoint.every=-5", "checkpoint.every: expected an integer >= 0, got -5"},
      {"checkpoint.keep_last=0", "checkpoint.keep_last: expected an integer >= 1, got 0"},
      {"checkpoint.resume=", "checkpoint.resume: expected auto, none or a checkpoint path, got ''"},
      {"run.name=", "run.name: expected a non-empty string, got ''"},
      {"train.max_skipped_steps=-1", "train.max_skipped_steps: expected an integer >= 0, got -1"},
      {"train.loss_spike_zscore=-2", "train.loss_spike_zscore: expected a number >= 0.0, got -2.0"},
      {"train.loss_spike_window=1", "train.loss_spike_window: expected an integer >= 2, got 1"},
      {"train.replay_check_every=-1", "train.replay_check_every: expected an integer >= 0, got -1"},
      {"parallel.timeout_s=-1", "parallel.timeout_s: expected a number >= 0.0, got -1.0"},
  };
  for (const Rule& r : rules) {
    SCOPED_TRACE(r.assignment);
    const Config c = overridden({r.assignment});
    const std::string msg = input_error_of([&] { configs::validate(c); });
    EXPECT_HAS(msg, std::string("invalid config: ") + r.expected);
  }
}

TEST(ConfigValidate, ReportsEveryProblemAtOnce) {
  const Config c = overridden({"parallel.tp=0", "train.device=gpu", "eval.batches=0"});
  const auto problems = configs::validation_problems(c);
  ASSERT_EQ(problems.size(), 3u);
  const std::string msg = input_error_of([&] { configs::validate(c); });
  EXPECT_HAS(msg, "train.device");
  EXPECT_HAS(msg, "; parallel.tp");
  EXPECT_HAS(msg, "; eval.batches");
}

TEST(ConfigValidate, EdgeValuesThatAreAllowed) {
  for (const char* a : {"eval.every=0", "checkpoint.every=0", "optim.grad_clip=0", "optim.warmup_steps=0",
                        "checkpoint.resume=none", "checkpoint.resume=runs/x/checkpoints/step_00000020",
                        "optim.beta1=0", "optim.weight_decay=0", "parallel.zero=1", "parallel.tp=4",
                        "train.device=cpu", "train.precision=fp16", "optim.schedule=constant"}) {
    SCOPED_TRACE(a);
    EXPECT_NO_THROW(configs::validate(overridden({a})));
  }
  EXPECT_NO_THROW(configs::validate(overridden({"optim.lr=0", "optim.min_lr=0"})));
}

TEST(ConfigAccumulation, GlobalOverMicroTimesDp) {
  const Config c;  // 512 / 16
  EXPECT_EQ(configs::accumulation_steps(c, 1), 32);
  EXPECT_EQ(configs::accumulation_steps(c, 4), 8);
  EXPECT_EQ(configs::accumulation_steps(c, 32), 1);
  const std::string msg = input_error_of([&] { configs::accumulation_steps(c, 3); });
  EXPECT_HAS(msg, "train.global_batch: expected a multiple of train.micro_batch x dp (16 x 3 = 48), got 512");
  EXPECT_HAS(input_error_of([&] { configs::accumulation_steps(c, 64); }), "(16 x 64 = 1024), got 512");
  EXPECT_HAS(input_error_of([&] { configs::accumulation_steps(c, 0); }), "expected an integer >= 1, got 0");
}

namespace {

// A llama config from overrides on the defaults (12 heads of 64, d_ff 3072).
Config llama(const std::vector<std::string>& more = {}) {
  std::vector<std::string> a = {"model.arch=llama"};
  a.insert(a.end(), more.begin(), more.end());
  return overridden(a);
}

}  // namespace

TEST(ConfigLlama, DefaultsDependOnTheArchitecture) {
  const Config c = llama();
  EXPECT_FALSE(c.model.tied());  // llama: an untied lm_head
  EXPECT_EQ(c.model.kv_heads(), 12);
  EXPECT_EQ(c.model.rope_base(), 10000.0);
  EXPECT_EQ(c.model.rms_eps(), 1e-5);
  EXPECT_TRUE(Config{}.model.tied());  // gpt2: tied
  EXPECT_NO_THROW(configs::validate(c));
  // The resolved config lists what the architecture uses, and only that.
  const std::string text = configs::to_yaml(c);
  for (const char* part : {"  arch: llama\n", "  tie_embeddings: false\n", "  n_kv_head: 12\n",
                           "  rope_theta: 10000.0\n", "  norm_eps: 1.0e-05\n"})
    EXPECT_HAS(text, part);
  const std::string gpt2 = configs::to_yaml(Config{});
  EXPECT_HAS(gpt2, "  tie_embeddings: true\n");
  for (const char* key : {"n_kv_head", "rope_theta", "norm_eps"}) EXPECT_EQ(gpt2.find(key), std::string::npos) << key;
  // Given explicitly, a key wins over the default; an unset default equals the same value written out.
  EXPECT_TRUE(llama({"model.tie_embeddings=true"}).model.tied());
  EXPECT_TRUE(llama({"model.n_kv_head=12", "model.tie_embeddings=false"}) == c);
  EXPECT_FALSE(llama({"model.n_kv_head=4"}) == c);
}

TEST(ConfigLlama, RulesNameKeyValueAndExpectation) {
  const Rule rules[] = {
      {"model.n_kv_head=5", "model.n_kv_head: expected a divisor of model.n_head (12), got 5"},
      {"model.n_kv_head=0", "model.n_kv_head: expected an integer >= 1, got 0"},
      {"model.rope_theta=0", "model.rope_theta: expected a number > 0.0, got 0.0"},
      {"model.norm_eps=-1e-5", "model.norm_eps: expected a number > 0.0, got -1.0e-05"},
      // head size 36 / 12 = 3: RoPE turns channel pairs
      {"model.d_model=36", "model.d_model: expected d_model / n_head (the head size) to be even for rotary "
                           "embeddings, with model.n_head 12, got 36"},
  };
  for (const Rule& r : rules) {
    SCOPED_TRACE(r.assignment);
    const Config c = llama({r.assignment});
    EXPECT_HAS(input_error_of([&] { configs::validate(c); }), std::string("invalid config: ") + r.expected);
  }
  // Tensor parallelism splits the key/value heads too: tp 4 divides 12 heads but not 2 kv heads.
  const Config tp4 = llama({"model.n_kv_head=2", "parallel.tp=4"});
  EXPECT_HAS(input_error_of([&] { configs::validate(tp4); }),
             "parallel.tp: expected a divisor of model.n_kv_head (2), got 4");
  EXPECT_NO_THROW(configs::validate(llama({"model.n_kv_head=4", "parallel.tp=4"})));
  EXPECT_NO_THROW(configs::validate(llama({"model.n_kv_head=1"})));  // multi-query attention
}

TEST(ConfigLlama, KeysInAYamlFileAndTheRunFolderRoundTrip) {
  const Config c = configs::config_from_yaml_string(
      "model: {arch: llama, n_head: 4, n_kv_head: 2, d_model: 128, d_ff: 384, rope_theta: 500000}\n", "x.yaml");
  EXPECT_EQ(c.model.kv_heads(), 2);
  EXPECT_EQ(c.model.rope_base(), 500000.0);
  EXPECT_EQ(c.model.n_kv_head, std::optional<int>(2));
  EXPECT_EQ(c.model.norm_eps, std::optional<double>(1e-5));  // resolved on load
  const Config back = configs::config_from_yaml_string(configs::to_yaml(c), "back.yaml");
  EXPECT_TRUE(back == c) << configs::to_yaml(c);
  EXPECT_HAS(input_error_of([&] { configs::config_from_yaml_string("model: {n_kv_head: four}\n", "y.yaml"); }),
             "y.yaml: model.n_kv_head: expected an integer, got 'four'");
}
