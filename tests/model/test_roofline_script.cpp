// tests/model/test_roofline_script.cpp
// scripts/roofline_gpt2.py (the per-kernel roofline in bench/README.md) and model/flops.h (the
// FLOPs per token behind every MFU kiln prints) count the same model: the script's GEMM FLOPs
// (2MNK over every matmul it lists) plus attention counted densely (forward x 3) must equal
// 6N + 12 L C T within 0.2%, for both presets. The two differ by design only in the biases and
// LayerNorm parameters, which 6N counts and no matmul multiplies: 0.085% at 124M, 0.080% at 350M.
// So a kernel dropped from (or doubled in) the script's list, or a change of either formula,
// fails here. Also: the script's defaults are the 124M preset, so the README's table is that
// model's. Runs python3 (already needed by ctest's `layering`).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <string>

#include "configs/load.h"
#include "model/flops.h"

namespace {

constexpr double kTolerance = 2e-3;  // relative; the bias/LayerNorm share is below 1e-3 in both presets

struct ScriptRun {
  int exit_code = -1;
  std::string out;
};

ScriptRun run_script(const std::string& args) {
  const std::string cmd = "python3 " + std::string(KILN_SOURCE_DIR) + "/scripts/roofline_gpt2.py --json " + args;
  ScriptRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

configs::Config preset(const char* name) {
  return configs::load_config(std::string(KILN_SOURCE_DIR) + "/configs/" + name);
}

std::string model_args(const configs::Config& c) {
  const configs::ModelConfig& m = c.model;
  return "--batch " + std::to_string(c.train.micro_batch) + " --seq " + std::to_string(m.seq_len) + " --layers " +
         std::to_string(m.n_layer) + " --heads " + std::to_string(m.n_head) + " --d-model " +
         std::to_string(m.d_model) + " --d-ff " + std::to_string(m.d_ff) + " --vocab " + std::to_string(m.vocab_size);
}

nlohmann::json parse_run(const ScriptRun& r) {
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return nlohmann::json::parse(r.out);
}

void expect_flops_agree(const char* preset_name) {
  const configs::Config c = preset(preset_name);
  ASSERT_TRUE(c.model.tie_embeddings) << "the script models tied embeddings (one lm_head GEMM on wte)";
  const nlohmann::json j = parse_run(run_script(model_args(c)));
  const double script = j.at("model_flops_per_token").get<double>();
  const double formula = model::flops_per_token(c.model);
  std::printf("[roofline %s] FLOPs/token: script %.6e, model/flops.h %.6e, relative difference %.3e (tol %.0e)\n",
              preset_name, script, formula, (formula - script) / formula, kTolerance);
  EXPECT_NEAR(script, formula, kTolerance * formula) << preset_name;
  // The difference has a known sign: 6N counts bias and LayerNorm parameters that no GEMM uses.
  EXPECT_LT(script, formula) << preset_name;
}

TEST(RooflineScript, FlopsPerTokenMatchModelFlopsFor124M) { expect_flops_agree("gpt2-124m.yaml"); }

TEST(RooflineScript, FlopsPerTokenMatchModelFlopsFor350M) { expect_flops_agree("gpt2-350m.yaml"); }

TEST(RooflineScript, DefaultsAreTheGpt2SmallPreset) {
  const configs::Config c = preset("gpt2-124m.yaml");
  const nlohmann::json cfg = parse_run(run_script("")).at("config");
  EXPECT_EQ(cfg.at("B").get<int>(), c.train.micro_batch);
  EXPECT_EQ(cfg.at("T").get<int>(), c.model.seq_len);
  EXPECT_EQ(cfg.at("L").get<int>(), c.model.n_layer);
  EXPECT_EQ(cfg.at("NH").get<int>(), c.model.n_head);
  EXPECT_EQ(cfg.at("C").get<int>(), c.model.d_model);
  EXPECT_EQ(cfg.at("F").get<int>(), c.model.d_ff);
  EXPECT_EQ(cfg.at("V").get<int>(), c.model.vocab_size);
  // The script's parameter count is the arena's (the position embedding included).
  EXPECT_EQ(cfg.at("P").get<int64_t>(), model::param_count_without_positions(c.model) +
                                            int64_t(c.model.seq_len) * c.model.d_model);
}

TEST(RooflineScript, BadArgumentIsAnError) {
  const ScriptRun r = run_script("--heads 5 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("not a multiple of --heads 5"), std::string::npos) << r.out;
}

}  // namespace
