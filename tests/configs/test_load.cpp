// tests/configs/test_load.cpp
// Reading and writing the experiment config (configs/load.h): defaults against the contract's
// YAML, the to_yaml -> load round trip, every kind of file error (asserting that the message names
// the file, key and value), base: inheritance, atomic write_config and the shipped presets.
// Overrides and validation rules are in test_override_validate.cpp.
//
// Files go under $KILN_TEST_TMP with the test's own name in every path, so tests (and parallel
// ctest runs) never share a file.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "configs/load.h"
#include "configs/validate.h"
#include "kernels/check.h"
#include "tests/common/test_support.h"

namespace fs = std::filesystem;
using configs::Config;

namespace {

using kiln_test::input_error_of;
using kiln_test::write_file;


Config from(const std::string& yaml) { return configs::config_from_yaml_string(yaml, "configs/x.yaml"); }
std::string from_error(const std::string& yaml) { return input_error_of([&] { from(yaml); }); }

// CONTRACTS §2, with one change from issue 2: precision defaults to auto (fp32 on the CPU, bf16 on a GPU).
constexpr const char* kContractYaml = R"(
run:        {name: gpt2-124m, out_dir: runs, seed: 1337}
model:      {arch: gpt2, vocab_size: 50304, seq_len: 1024, n_layer: 12, n_head: 12,
             d_model: 768, d_ff: 3072, tie_embeddings: true}
data:       {train: "data/x/train_*.h5", val: "data/x/val_*.h5"}
train:      {device: auto, precision: auto, micro_batch: 16, global_batch: 512,
             max_steps: 5000, log_every: 10}          # global_batch in sequences
optim:      {lr: 6.0e-4, min_lr: 6.0e-5, warmup_steps: 700, schedule: cosine,
             beta1: 0.9, beta2: 0.95, eps: 1.0e-8, weight_decay: 0.1, grad_clip: 1.0}
parallel:   {tp: 1, zero: 0}                          # dp = world_size / tp
eval:       {every: 250, batches: 20}
checkpoint: {every: 1000, keep_last: 3, resume: auto} # auto | none | PATH
)";

}  // namespace

TEST(ConfigDefaults, EqualTheContractYaml) {
  const Config c = from(kContractYaml);
  EXPECT_TRUE(c == Config{}) << configs::differences(c, Config{})[0];
  EXPECT_NO_THROW(configs::validate(Config{}));
}

TEST(ConfigDefaults, EmptyFileAndEmptySectionKeepDefaults) {
  EXPECT_TRUE(from("") == Config{});
  EXPECT_TRUE(from("# nothing but a comment\n") == Config{});
  EXPECT_TRUE(from("model:\n  # every key commented out\n") == Config{});
}

TEST(ConfigRoundTrip, ToYamlThenLoadIsEqual) {
  Config c;
  c.run.name = "1337";             // would read back as an int if printed plain
  c.run.out_dir = "a: b # not a comment";
  c.run.seed = -9000000000LL;       // needs 64 bits
  c.data.train = "*glob/with 'quotes' and \"doubles\"";
  c.data.val = "";
  c.checkpoint.resume = "null";
  c.model.tie_embeddings = false;
  c.optim.lr = 0.1 + 0.2;           // 0.30000000000000004: needs all 17 digits
  c.optim.min_lr = 1e-300;
  c.optim.eps = 3.0;                // integral double
  const std::string text = configs::to_yaml(c);
  const Config back = from(text);
  EXPECT_TRUE(back == c) << text;
  EXPECT_TRUE(configs::to_yaml(back) == text);
}

TEST(ConfigRoundTrip, ToYamlListsEverySectionAndKey) {
  const std::string text = configs::to_yaml(Config{});
  for (const char* part : {"run:\n", "checkpoint:\n", "  name: gpt2-124m\n", "  seed: 1337\n",
                           "  tie_embeddings: true\n", "  lr: 6.0e-04\n", "  eps: 1.0e-08\n", "  beta1: 0.9\n",
                           "  grad_clip: 1.0\n", "  zero: 0\n", "  resume: auto\n"})
    EXPECT_HAS(text, part);
  EXPECT_EQ(text.find("base"), std::string::npos);
}

TEST(ConfigEquality, DifferencesNameKeyAndBothValues) {
  Config a, b;
  b.model.d_ff = 4096;
  b.run.name = "other";
  const auto d = configs::differences(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], "run.name: 'gpt2-124m' vs 'other'");
  EXPECT_EQ(d[1], "model.d_ff: 3072 vs 4096");
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a != b);
  std::ostringstream printed;  // what gtest shows when EXPECT_EQ on two configs fails
  printed << b;
  EXPECT_EQ(printed.str(), configs::to_yaml(b));
}

TEST(ConfigErrors, UnknownKeyNamesFileDottedKeyAndLine) {
  const std::string msg = from_error("optim:\n  lr: 1e-3\n  learning_rate: 3e-4\n");
  EXPECT_HAS(msg, "configs/x.yaml: unknown key 'optim.learning_rate'");
  EXPECT_HAS(msg, "line 3");
  EXPECT_HAS(msg, "optim has: lr, min_lr");
}

TEST(ConfigErrors, UnknownSection) {
  const std::string msg = from_error("optimizer:\n  lr: 1e-3\n");
  EXPECT_HAS(msg, "configs/x.yaml: unknown section 'optimizer'");
  EXPECT_HAS(msg, "sections are: base, run, model");
}

TEST(ConfigErrors, WrongTypeNamesKeyValueAndExpectedType) {
  EXPECT_HAS(from_error("model:\n  n_layer: twelve\n"),
             "configs/x.yaml: model.n_layer: expected an integer, got 'twelve' (line 2)");
  EXPECT_HAS(from_error("optim: {lr: fast}"), "optim.lr: expected a number, got 'fast'");
  EXPECT_HAS(from_error("model: {tie_embeddings: yes}"), "model.tie_embeddings: expected true or false, got 'yes'");
  EXPECT_HAS(from_error("model: {n_layer: [1, 2]}"), "model.n_layer: expected an integer, got a list");
  EXPECT_HAS(from_error("run: {name: {a: 1}}"), "run.name: expected a string, got a map");
  EXPECT_HAS(from_error("run:\n  name:\n"), "run.name: expected a string, got an empty value");
}

TEST(ConfigErrors, IntegersRejectFractionsExponentsAndOverflow) {
  EXPECT_HAS(from_error("model: {n_layer: 3.5}"), "model.n_layer: expected an integer, got '3.5'");
  EXPECT_HAS(from_error("model: {n_layer: 1e3}"), "model.n_layer: expected an integer, got '1e3'");
  EXPECT_HAS(from_error("model: {n_layer: 99999999999}"), "model.n_layer: expected an integer in [");
  EXPECT_EQ(from("run: {seed: 99999999999}").run.seed, 99999999999LL);  // seed is 64-bit
  EXPECT_EQ(from("model: {n_layer: +6}").model.n_layer, 6);
}

TEST(ConfigErrors, DoublesAcceptIntegersAndScientificNotation) {
  EXPECT_EQ(from("optim: {lr: 1}").optim.lr, 1.0);
  EXPECT_EQ(from("optim: {lr: 6e-4}").optim.lr, 6e-4);
  EXPECT_EQ(from("optim: {lr: 6.0E-4}").optim.lr, 6e-4);
  EXPECT_EQ(from("optim: {lr: .5}").optim.lr, 0.5);
  EXPECT_HAS(from_error("optim: {lr: .inf}"), "optim.lr: expected a number, got '.inf'");
  EXPECT_HAS(from_error("optim: {lr: 1e999}"), "optim.lr: expected a finite number, got '1e999'");
  EXPECT_FALSE(from("model: {tie_embeddings: false}").model.tied());
  EXPECT_TRUE(from("model: {tie_embeddings: True}").model.tied());
}

TEST(ConfigErrors, SectionMustBeAMap) {
  EXPECT_HAS(from_error("model: 12\n"), "configs/x.yaml: section 'model' must be a map of keys, got a scalar '12'");
  EXPECT_HAS(from_error("optim: [1, 2]\n"), "section 'optim' must be a map of keys, got a list");
  EXPECT_HAS(from_error("- run\n- model\n"), "configs/x.yaml: expected a map of sections");
}

TEST(ConfigErrors, DuplicateKeyAndSyntaxError) {
  EXPECT_HAS(from_error("optim:\n  lr: 1\n  lr: 2\n"), "configs/x.yaml: duplicate key 'optim.lr' (line 3)");
  EXPECT_HAS(from_error("model: {n_layer: 12\n"), "configs/x.yaml: YAML syntax error at line");
}

TEST(ConfigErrors, BaseNeedsAFile) {
  EXPECT_HAS(from_error("base: gpt2-124m.yaml\n"), "configs/x.yaml: base: is only supported in config files");
}

TEST(ConfigBase, InheritsTwoLevelsWithRelativePaths) {
  const fs::path dir = kiln_test::scratch_dir("configs");
  write_file(dir / "root.yaml",
             "run: {name: root}\nmodel: {n_layer: 6}\noptim: {lr: 1.0e-3, min_lr: 1.0e-4}\n");
  write_file(dir / "sub/mid.yaml", "base: ../root.yaml\nmodel: {n_head: 6}\noptim: {lr: 5.0e-4}\n");
  write_file(dir / "sub/deeper/leaf.yaml", "base: ../mid.yaml\nrun:\n  name: leaf\n");
  const Config c = configs::load_config((dir / "sub/deeper/leaf.yaml").string());
  EXPECT_EQ(c.run.name, "leaf");        // leaf beats root
  EXPECT_EQ(c.model.n_layer, 6);        // from root, through mid
  EXPECT_EQ(c.model.n_head, 6);         // from mid
  EXPECT_EQ(c.optim.lr, 5e-4);          // mid beats root...
  EXPECT_EQ(c.optim.min_lr, 1e-4);      // ...without dropping root's other optim keys
  EXPECT_EQ(c.model.d_model, 768);      // nobody set it: the default
  EXPECT_EQ(c.run.out_dir, "runs");
}

TEST(ConfigBase, AbsolutePath) {
  const fs::path dir = kiln_test::scratch_dir("configs");
  write_file(dir / "a/base.yaml", "train: {max_steps: 7}\n");
  write_file(dir / "b/child.yaml", "base: " + fs::absolute(dir / "a/base.yaml").string() + "\n");
  EXPECT_EQ(configs::load_config((dir / "b/child.yaml").string()).train.max_steps, 7);
}

TEST(ConfigBase, CycleNamesTheFiles) {
  const fs::path dir = kiln_test::scratch_dir("configs");
  write_file(dir / "a.yaml", "base: b.yaml\n");
  write_file(dir / "b.yaml", "base: ./a.yaml\n");
  const std::string msg = input_error_of([&] { configs::load_config((dir / "a.yaml").string()); });
  EXPECT_HAS(msg, "base cycle");
  EXPECT_HAS(msg, (dir / "a.yaml").string() + " -> " + (dir / "b.yaml").string() + " -> ");
  write_file(dir / "self.yaml", "base: self.yaml\n");
  EXPECT_HAS(input_error_of([&] { configs::load_config((dir / "self.yaml").string()); }), "base cycle");
}

TEST(ConfigBase, MissingBaseNamesTheNamingFileAndTheBase) {
  const fs::path dir = kiln_test::scratch_dir("configs");
  write_file(dir / "child.yaml", "run: {name: x}\nbase: ../nope.yaml\n");
  const std::string msg = input_error_of([&] { configs::load_config((dir / "child.yaml").string()); });
  EXPECT_HAS(msg, (dir / "child.yaml").string() + ": base file '../nope.yaml' not found");
  EXPECT_HAS(msg, "line 2");
}

TEST(ConfigBase, ErrorsInsideABaseNameTheBaseFile) {
  const fs::path dir = kiln_test::scratch_dir("configs");
  write_file(dir / "base.yaml", "eval: {batchez: 3}\n");
  write_file(dir / "child.yaml", "base: base.yaml\n");
  EXPECT_HAS(input_error_of([&] { configs::load_config((dir / "child.yaml").string()); }),
             (dir / "base.yaml").string() + ": unknown key 'eval.batchez'");
}

TEST(ConfigLoad, MissingFileAndInvalidValuesNameTheFile) {
  const fs::path dir = kiln_test::scratch_dir("configs");
  EXPECT_HAS(input_error_of([&] { configs::load_config((dir / "none.yaml").string()); }),
             (dir / "none.yaml").string() + ": config file not found");
  write_file(dir / "bad.yaml", "parallel: {tp: 0}\n");
  EXPECT_HAS(input_error_of([&] { configs::load_config((dir / "bad.yaml").string()); }),
             (dir / "bad.yaml").string() + ": invalid config: parallel.tp: expected an integer >= 1, got 0");
}

TEST(ConfigWrite, AtomicWriteReloadsEqualAndLeavesNoTempFile) {
  const fs::path dir = kiln_test::scratch_dir("configs");
  const fs::path path = dir / "runs/r1/config.yaml";  // parent folders do not exist yet
  Config c;
  c.run.name = "r1";
  c.optim.lr = 3e-4;
  configs::write_config(c, path.string());
  EXPECT_TRUE(configs::load_config(path.string()) == c);
  c.train.max_steps = 10;  // overwrite in place
  configs::write_config(c, path.string());
  EXPECT_TRUE(configs::load_config(path.string()) == c);
  for (const auto& e : fs::directory_iterator(path.parent_path()))
    EXPECT_EQ(e.path().filename(), "config.yaml") << "leftover " << e.path();
}

TEST(ConfigPresets, EveryShippedYamlLoadsAndValidates) {
  const fs::path src = KILN_SOURCE_DIR;
  int n = 0;
  for (const fs::path& folder : {src / "configs", src / "configs/examples"})
    for (const auto& e : fs::directory_iterator(folder))
      if (e.path().extension() == ".yaml") {
        SCOPED_TRACE(e.path().string());
        EXPECT_NO_THROW(configs::load_config(e.path().string()));
        ++n;
      }
  EXPECT_GE(n, 4);
}

TEST(ConfigPresets, ValuesOfEachPreset) {
  const std::string dir = std::string(KILN_SOURCE_DIR) + "/configs/";
  const Config small = configs::load_config(dir + "gpt2-124m.yaml");
  EXPECT_TRUE(small == Config{});  // the 124M preset spells out exactly the contract defaults

  const Config medium = configs::load_config(dir + "gpt2-350m.yaml");
  EXPECT_EQ(medium.model.n_layer, 24);
  EXPECT_EQ(medium.model.n_head, 16);
  EXPECT_EQ(medium.model.d_model, 1024);
  EXPECT_EQ(medium.model.d_ff, 4096);
  EXPECT_EQ(medium.run.name, "gpt2-350m");

  const Config tp2 = configs::load_config(dir + "examples/tp2.yaml");
  EXPECT_EQ(tp2.parallel.tp, 2);
  EXPECT_EQ(tp2.model.n_layer, 12);  // inherited through ../gpt2-124m.yaml
  EXPECT_EQ(configs::accumulation_steps(tp2, 1), 32);

  const Config dp4 = configs::load_config(dir + "examples/dp4-zero1.yaml");
  EXPECT_EQ(dp4.parallel.zero, 1);
  EXPECT_EQ(dp4.parallel.tp, 1);
  EXPECT_EQ(configs::accumulation_steps(dp4, 4), 8);

  // The Llama demo keeps the GPT-2 demo's budget: same data, batch, steps, schedule and width.
  const Config tiny = configs::load_config(dir + "tiny-cpu.yaml");
  const Config llama_tiny = configs::load_config(dir + "llama-tiny-cpu.yaml");
  EXPECT_EQ(llama_tiny.model.arch, "llama");
  EXPECT_EQ(llama_tiny.model.kv_heads(), 2);
  EXPECT_FALSE(llama_tiny.model.tied());
  for (const std::string& d : configs::differences(tiny, llama_tiny))
    EXPECT_TRUE(d.rfind("model.", 0) == 0 || d.rfind("run.name", 0) == 0) << "the demos differ outside the model: " << d;
  EXPECT_EQ(llama_tiny.model.d_model, tiny.model.d_model);
  EXPECT_EQ(llama_tiny.model.n_layer, tiny.model.n_layer);

  const Config llama1b = configs::load_config(dir + "llama-1b.yaml");
  EXPECT_EQ(llama1b.model.n_layer, 16);
  EXPECT_EQ(llama1b.model.d_model, 2048);
  EXPECT_EQ(llama1b.model.n_head, 32);
  EXPECT_EQ(llama1b.model.kv_heads(), 8);
  EXPECT_EQ(llama1b.model.d_ff, 8192);
  EXPECT_EQ(llama1b.model.rope_base(), 500000.0);
  EXPECT_EQ(llama1b.model.vocab_size % 64, 0);
  EXPECT_GE(llama1b.model.vocab_size, 50257);
}
