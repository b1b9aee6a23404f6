// tests/tools/test_use_cli.cpp
// Using a trained checkpoint from the command line: `kiln eval` (JSON last line, the trainer's
// numbers, the same under mpirun as on one rank) and `kiln sample` (stdout is the prompt and the
// generated text only, greedy is deterministic, a seed repeats).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "tests/tools/cli_test_util.h"

namespace {

// Trains the prepared 2-step run once per test binary; returns its folder (holds a checkpoint).
const std::string& trained_run() {
  static const std::string dir = [] {
    const std::string d = kiln_test::scratch_dir("cli_use");
    const Result r = run("train " + prepared(d));
    EXPECT_EQ(r.code, 0) << r.out;
    return d;
  }();
  return dir;
}

double last_val_loss(const std::string& eval_jsonl) {
  std::ifstream in(eval_jsonl);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  return nlohmann::json::parse(last)["val_loss"].get<double>();
}

TEST(CliEval, PrintsTheTrainersValLossAsJson) {
  const std::string& dir = trained_run();
  // The run's final eval covered eval.batches (1) x micro_batch (2) windows: ask for the same.
  const Result r = run("eval --checkpoint " + dir + "/runs/r --data '" + dir + "/shards/val_*.h5' --batches 1", "/dev/null");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = last_json_line(r.out);
  EXPECT_NEAR(j["loss"].get<double>(), last_val_loss(dir + "/runs/r/eval.jsonl"), 1e-12);
  EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(j["loss"].get<double>()), 1e-9);
  EXPECT_NEAR(j["bits_per_byte"].get<double>(), j["loss"].get<double>() / std::log(2.0), 1e-9);  // byte tokenizer
  EXPECT_EQ(j["tokens"].get<int64_t>(), 2 * 16);
  EXPECT_EQ(j["step"].get<int64_t>(), 2);
}

TEST(CliEval, UnderMpirunGivesOneRanksNumbers) {
  const std::string& dir = trained_run();
  const std::string args = "eval --checkpoint " + dir + "/runs/r --data '" + dir + "/shards/val_*.h5'";
  const Result one = run(args, "/dev/null");
  ASSERT_EQ(one.code, 0) << one.out;
  const nlohmann::json want = last_json_line(one.out);
  EXPECT_GT(want["tokens"].get<int64_t>(), 16 * 16) << "every window of the shards, by default";
  const std::string mpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
                             "mpirun -np 2 --oversubscribe " + std::string(KILN_BIN) + " ";
  for (const char* layout : {"", " --tp 2"}) {
    const Result r = shell(mpirun + args + layout, "/dev/null");
    ASSERT_EQ(r.code, 0) << layout << "\n" << r.out;
    const nlohmann::json got = last_json_line(r.out);
    EXPECT_EQ(got["tokens"], want["tokens"]) << layout;
    EXPECT_NEAR(got["loss"].get<double>(), want["loss"].get<double>(), 1e-6 * want["loss"].get<double>()) << layout;
  }
}

TEST(CliEval, BadInputExitsTwoNamingIt) {
  const std::string& dir = trained_run();
  Result r = run("eval --checkpoint " + dir + "/nowhere --data '" + dir + "/shards/val_*.h5'");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(dir + "/nowhere"), std::string::npos) << r.out;
  r = run("eval --checkpoint " + dir + "/runs/r --data '" + dir + "/shards/none_*.h5'");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("none_*.h5"), std::string::npos) << r.out;
  // Shards that say they come from another tokenizer: the byte shards beside a GPT-2 tokenizer
  // folder (the GPT-2 files are fetched by setup.sh into $KILN_CACHE).
  const char* cache = std::getenv("KILN_CACHE");
  const std::string gpt2 = cache ? std::string(cache) + "/tokenizers/gpt2" : "";
  if (gpt2.empty() || !fs::exists(gpt2 + "/encoder.json")) GTEST_SKIP() << "no GPT-2 files in $KILN_CACHE";
  fs::create_directories(dir + "/other/tokenizer");
  fs::copy(dir + "/shards/val_000000.h5", dir + "/other/val_000000.h5", fs::copy_options::overwrite_existing);
  for (const char* f : {"encoder.json", "vocab.bpe"})
    fs::copy(gpt2 + "/" + f, dir + "/other/tokenizer/" + f, fs::copy_options::overwrite_existing);
  r = run("eval --checkpoint " + dir + "/runs/r --data '" + dir + "/other/val_*.h5'");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("tokenized with gpt2:"), std::string::npos) << r.out;
}

TEST(CliSample, StdoutIsThePromptAndTheTextGreedyIsDeterministic) {
  const std::string& dir = trained_run();
  const std::string base = "sample --checkpoint " + dir + "/runs/r --prompt 'call me' --max-new-tokens 40";
  const Result a = run(base + " --temperature 0", "/dev/null");
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_EQ(a.out.rfind("call me", 0), 0u) << a.out;
  EXPECT_EQ(a.out.size(), std::string("call me").size() + 40) << "byte tokenizer: 40 new tokens are 40 bytes";
  EXPECT_EQ(run(base + " --temperature 0", "/dev/null").out, a.out);
  const Result s1 = run(base + " --temperature 1 --top-k 20 --top-p 0.95 --seed 1", "/dev/null");
  ASSERT_EQ(s1.code, 0) << s1.out;
  EXPECT_EQ(run(base + " --temperature 1 --top-k 20 --top-p 0.95 --seed 1", "/dev/null").out, s1.out);
  EXPECT_NE(run(base + " --temperature 1 --top-k 20 --top-p 0.95 --seed 2", "/dev/null").out, s1.out);
  EXPECT_EQ(run("sample --checkpoint " + dir + "/runs/r --prompt 'call me' --max-new-tokens 0", "/dev/null").out, "call me");
}

TEST(CliSample, BadInputExitsTwoNamingIt) {
  const std::string& dir = trained_run();
  Result r = run("sample --checkpoint " + dir + "/runs/r --prompt ''");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--prompt"), std::string::npos) << r.out;
  r = run("sample --checkpoint " + dir + "/runs/r --prompt x --top-p 0");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--top-p"), std::string::npos) << r.out;
  r = run("sample --checkpoint " + dir + "/runs/r --prompt x --temperature -1");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--temperature"), std::string::npos) << r.out;
}

TEST(CliUse, HelpListsEveryFlag) {
  const Result e = run("eval --help");
  EXPECT_EQ(e.code, 0);
  for (const char* s : {"--checkpoint", "--data", "--batches", "--micro-batch", "--tp", "--device", "--precision"})
    EXPECT_NE(e.out.find(s), std::string::npos) << s;
  const Result s = run("sample --help");
  EXPECT_EQ(s.code, 0);
  for (const char* f : {"--checkpoint", "--prompt", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed",
                        "--device", "--precision"})
    EXPECT_NE(s.out.find(f), std::string::npos) << f;
}

}  // namespace

namespace {

// The same run as a Llama (4 query heads of 4 on 2 key/value heads), trained by the binary with
// overrides: eval reproduces the trainer's val loss, also under mpirun with tp 2 (one kv head per
// rank), and sample runs the Llama KV cache (greedy repeats, stdout holds only the text).
const std::string& trained_llama_run() {
  static const std::string dir = [] {
    const std::string d = kiln_test::scratch_dir("cli_use_llama");
    const Result r = run("train " + prepared(d) +
                         " model.arch=llama model.n_head=4 model.n_kv_head=2 model.d_ff=24 run.name=llama");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("model llama L=1 H=4 KV=2 C=16 F=24"), std::string::npos) << "the banner names the arch\n"
                                                                                     << r.out;
    return d;
  }();
  return dir;
}

TEST(CliLlama, EvalAndSampleUseTheLlamaCheckpoint) {
  const std::string& dir = trained_llama_run();
  const std::string run_dir = dir + "/runs/llama";
  std::ifstream cfg(run_dir + "/config.yaml");
  const std::string resolved((std::istreambuf_iterator<char>(cfg)), std::istreambuf_iterator<char>());
  for (const char* key : {"arch: llama", "n_kv_head: 2", "rope_theta: 10000.0", "norm_eps: 1.0e-05",
                          "tie_embeddings: false"})
    EXPECT_NE(resolved.find(key), std::string::npos) << key << " missing from the resolved config:\n" << resolved;

  const Result e = run("eval --checkpoint " + run_dir + " --data '" + dir + "/shards/val_*.h5' --batches 1", "/dev/null");
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NEAR(last_json_line(e.out)["loss"].get<double>(), last_val_loss(run_dir + "/eval.jsonl"), 1e-12);

  const std::string base = "sample --checkpoint " + run_dir + " --prompt 'call me' --max-new-tokens 30";
  const Result a = run(base + " --temperature 0", "/dev/null");
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_EQ(a.out.rfind("call me", 0), 0u) << a.out;
  EXPECT_EQ(a.out.size(), std::string("call me").size() + 30);
  EXPECT_EQ(run(base + " --temperature 0", "/dev/null").out, a.out);
}

// Its own test so the sanitizer run can leave out the one part that starts mpirun (scripts/test.sh).
TEST(CliLlama, EvalUnderMpirunWithTp2GivesOneRanksNumbers) {
  const std::string& dir = trained_llama_run();
  const std::string run_dir = dir + "/runs/llama";
  const std::string all = "eval --checkpoint " + run_dir + " --data '" + dir + "/shards/val_*.h5'";
  const nlohmann::json one = last_json_line(run(all, "/dev/null").out);
  const Result tp2 = shell("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 mpirun -np 2 "
                           "--oversubscribe " + std::string(KILN_BIN) + " " + all + " --tp 2", "/dev/null");
  ASSERT_EQ(tp2.code, 0) << tp2.out;
  EXPECT_NEAR(last_json_line(tp2.out)["loss"].get<double>(), one["loss"].get<double>(), 1e-6 * one["loss"].get<double>());
}

TEST(CliLlama, ArchitectureKeysAreRefusedOnTheOtherArchitecture) {
  const std::string d = kiln_test::scratch_dir("cli_llama_keys");
  const Result r = run("train " + prepared(d) + " model.n_kv_head=2");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("model.n_kv_head: expected no value: it is a model.arch llama key, and this config has "
                       "model.arch gpt2, got 2"),
            std::string::npos)
      << r.out;
  // tp must split the key/value heads: 4 heads on 2 kv heads cannot run at tp 4.
  const Result t = run("train " + prepared(d) + " model.arch=llama model.n_head=4 model.n_kv_head=2 parallel.tp=4");
  EXPECT_EQ(t.code, 2) << t.out;
  EXPECT_NE(t.out.find("parallel.tp: expected a divisor of model.n_kv_head (2), got 4"), std::string::npos) << t.out;
}

}  // namespace
