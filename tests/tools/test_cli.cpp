// tests/tools/test_cli.cpp
// The `kiln` binary as users meet it: help texts, --version, and bad input exiting with code 2 and
// a message that names the culprit (CONTRACTS §1). Runs the real binary in a shell.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/prepare.h"
#include "tests/common/test_support.h"
#include "tests/tools/cli_test_util.h"

namespace {

namespace fs = std::filesystem;

TEST(Cli, HelpDescribesEveryFlag) {
  const Result top = run("--help");
  EXPECT_EQ(top.code, 0);
  for (const char* s : {"train", "prepare", "--version"}) EXPECT_NE(top.out.find(s), std::string::npos) << s;
  const Result train = run("train --help");
  EXPECT_EQ(train.code, 0);
  for (const char* s : {"config", "overrides"}) EXPECT_NE(train.out.find(s), std::string::npos) << s;
  const Result prep = run("prepare --help");
  EXPECT_EQ(prep.code, 0);
  for (const char* s : {"--input", "--out", "--tokenizer", "--val-fraction", "--shard-tokens", "--seed"})
    EXPECT_NE(prep.out.find(s), std::string::npos) << s;
  EXPECT_NE(top.out.find("plot"), std::string::npos);
  const Result plot = run("plot --help");
  EXPECT_EQ(plot.code, 0);
  for (const char* s : {"RUN_DIR", "--out", "--smoothing", "--width", "--height", "curves.svg"})
    EXPECT_NE(plot.out.find(s), std::string::npos) << s;
  EXPECT_NE(top.out.find("export"), std::string::npos);
  const Result exp = run("export --help");
  EXPECT_EQ(exp.code, 0);
  for (const char* s : {"--checkpoint", "--format", "--out", "--dtype", "--force", "from_pretrained"})
    EXPECT_NE(exp.out.find(s), std::string::npos) << s;
}

TEST(Cli, ExportBadInputExitsTwoNamingTheCulprit) {
  const std::string dir = kiln_test::scratch_dir("cli");
  const std::string cfg = prepared(dir);
  ASSERT_EQ(run("train " + cfg + " checkpoint.every=2").code, 0);
  const std::string ckpt = dir + "/runs/r";
  Result r = run("export --checkpoint " + dir + "/nope --format hf --out " + dir + "/hf");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--checkpoint"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(dir + "/nope"), std::string::npos) << r.out;
  r = run("export --checkpoint " + ckpt + " --format onnx --out " + dir + "/hf");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--format: 'onnx'"), std::string::npos) << r.out;
  r = run("export --checkpoint " + ckpt + " --format hf --out " + dir + "/hf --dtype int8");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--dtype: 'int8'"), std::string::npos) << r.out;
  r = run("export --checkpoint " + ckpt + " --out " + dir + "/hf");  // --format is required
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--format"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/hf"));
  kiln_test::write_file(dir + "/busy/x.txt", "keep me");
  r = run("export --checkpoint " + ckpt + " --format hf --out " + dir + "/busy");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(dir + "/busy"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/busy/x.txt"));
  // The good case prints the folder and its summary.
  r = run("export --checkpoint " + ckpt + " --format hf --out " + dir + "/hf --dtype bf16");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(dir + "/hf: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bf16"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(dir + "/hf/" + f)) << f;
}

TEST(Cli, VersionListsBuildFeatures) {
  const Result r = run("--version");
  EXPECT_EQ(r.code, 0);
  for (const char* k : {"cuda: ", "nccl: ", "cudnn: ", "mpi: ", "hdf5: ", "gpus: ", "cuda_plugin: "})
    EXPECT_NE(r.out.find(k), std::string::npos) << k;
  // A CUDA build names its plugin file, which must exist where the loader will look.
  if (r.out.find("cuda: no") == std::string::npos) {
    const size_t at = r.out.find("cuda_plugin: ") + 13;
    const std::string path = r.out.substr(at, r.out.find('\n', at) - at);
    EXPECT_TRUE(fs::exists(path)) << r.out;
  }
}

// Commands that never touch a GPU never load the CUDA runtime, cuBLASLt, cuDNN, NCCL or the CUDA
// plugin (issue 16: they cost ~0.5 s and ~200 MB per start). The dynamic loader's own log
// (LD_DEBUG=files, on stderr) lists every object a process loads, dlopen'ed ones included.
TEST(Cli, CpuCommandsLoadNoCudaLibrary) {
  const std::string dir = kiln_test::scratch_dir("cli");
  kiln_test::write_file(dir + "/doc.txt", "Call me Ishmael. Some years ago, never mind how long precisely.");
  for (const std::string& args : {std::string("--version"),
                                  "prepare --input " + dir + "/doc.txt --out " + dir + "/out --tokenizer byte --quiet",
                                  "inspect " + dir + "/out/train_000000.h5"}) {
    const Result r = shell("LD_DEBUG=files " + std::string(KILN_BIN) + " " + args);
    EXPECT_EQ(r.code, 0) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("file=libstdc++"), std::string::npos) << "LD_DEBUG=files printed nothing: " << r.out;
    // Only the loader's "file=NAME [ns];  needed by / dynamically loaded by" lines count (stdout
    // has --version's own `cuda_plugin: PATH` line).
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("file=") == std::string::npos) continue;
      for (const char* lib : {"libkiln_cuda", "libcudart", "libcublas", "libcudnn", "libnccl"}) {
        EXPECT_EQ(line.find(lib), std::string::npos) << args << " loaded " << lib << ": " << line;
      }
    }
  }
}

TEST(Cli, TrainsTwoStepsOnGoodInput) {
  const std::string dir = kiln_test::scratch_dir("cli");
  const Result r = run("train " + prepared(dir));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/runs/r/metrics.jsonl"));
}

// train.device: cudasim runs the CUDA kernels on the CPU simulator: the same fp32 losses as the CPU.
TEST(Cli, TrainsOnTheSimulatedGpu) {
  const std::string dir = kiln_test::scratch_dir("cli");
  const std::string cfg = prepared(dir);
  const Result cpu = run("train " + cfg + " run.name=cpu");
  const Result sim = run("train " + cfg + " run.name=sim train.device=cudasim");
  ASSERT_EQ(cpu.code, 0) << cpu.out;
  ASSERT_EQ(sim.code, 0) << sim.out;
  EXPECT_NE(sim.out.find("device cudasim"), std::string::npos) << sim.out;
  std::ifstream a(dir + "/runs/cpu/metrics.jsonl"), b(dir + "/runs/sim/metrics.jsonl");
  std::string la, lb;
  int steps = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    const double x = nlohmann::json::parse(la)["loss"], y = nlohmann::json::parse(lb)["loss"];
    EXPECT_NEAR(y, x, 1e-4 * std::fabs(x)) << "step " << steps;
    ++steps;
  }
  EXPECT_EQ(steps, 2);
}

TEST(Cli, BadConfigExitsTwoNamingTheKey) {
  const std::string dir = kiln_test::scratch_dir("cli");
  const std::string cfg = prepared(dir);
  kiln_test::write_file(dir + "/unknown.yaml", "base: run.yaml\noptim: {learning_rate: 1.0e-3}\n");
  Result r = run("train " + dir + "/unknown.yaml");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("optim.learning_rate"), std::string::npos) << r.out;
  kiln_test::write_file(dir + "/typo.yaml", "base: run.yaml\nmodel: {n_layer: twelve}\n");
  r = run("train " + dir + "/typo.yaml");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("model.n_layer"), std::string::npos) << r.out;
  r = run("train " + cfg + " train.max_stepz=3");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("train.max_stepz"), std::string::npos) << r.out;
  r = run("train " + dir + "/nope.yaml");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("nope.yaml"), std::string::npos) << r.out;
  r = run("train " + cfg + " model.vocab_size=128");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("model.vocab_size"), std::string::npos) << r.out;
}

TEST(Cli, MisconfiguredLayoutExitsTwoBeforeAllocating) {
  const std::string dir = kiln_test::scratch_dir("cli");
  const std::string cfg = prepared(dir);
  // One process cannot hold a tp=2 layout: refused by the layout check, before any model exists.
  Result r = run("train " + cfg + " parallel.tp=2");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("parallel.tp = 2"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("parameters"), std::string::npos) << "the banner (after allocation) must not appear: " << r.out;
  r = run("train " + cfg + " parallel.tp=3");  // 3 divides neither n_head=2 nor d_ff=32
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("parallel.tp"), std::string::npos) << r.out;
}

TEST(Cli, SigtermSavesACheckpointAndExitsThreeThenResumes) {
  const std::string dir = kiln_test::scratch_dir("cli");
  const std::string cfg = prepared(dir);
  // A long run, stopped by SIGTERM once it is under way (Slurm's preemption signal).
  const Result r = run("train " + cfg + " train.max_steps=1000000 train.log_every=1 checkpoint.every=0 & pid=$!; "
                       "sleep 2; kill -TERM $pid; wait $pid; echo EXIT=$?");
  EXPECT_NE(r.out.find("EXIT=3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stopped by a signal"), std::string::npos) << r.out;
  const std::string latest = dir + "/runs/r/checkpoints/latest";
  ASSERT_TRUE(fs::exists(latest)) << r.out;
  std::string name;
  std::ifstream(latest) >> name;
  const int saved = std::stoi(name.substr(5));
  EXPECT_GT(saved, 0);
  // The same command again resumes from it and trains on to max_steps.
  const Result again = run("train " + cfg + " train.max_steps=" + std::to_string(saved + 2));
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("resumed from"), std::string::npos) << again.out;
  const Result inspect = run("inspect " + dir + "/runs/r/checkpoints --verify");
  EXPECT_EQ(inspect.code, 0) << inspect.out;
  EXPECT_NE(inspect.out.find("\"step\":" + std::to_string(saved + 2)), std::string::npos) << inspect.out;
}

TEST(Cli, MissingDataGlobExitsTwoNamingThePattern) {
  const std::string dir = kiln_test::scratch_dir("cli");
  const std::string cfg = prepared(dir);
  const Result r = run("train " + cfg + " 'data.train=" + dir + "/missing/train_*.h5'");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(dir + "/missing/train_*.h5"), std::string::npos) << r.out;
}

TEST(Cli, TokenIdBeyondVocabExitsTwoNamingTheShard) {
  const std::string dir = kiln_test::scratch_dir("cli");
  const std::string cfg = prepared(dir);
  // Hand-write a shard whose attributes say vocab 256 but which holds the id 300.
  const std::string bad = dir + "/bad/train_000000.h5";
  fs::create_directories(dir + "/bad");
  std::vector<uint16_t> tokens(100, 65);
  tokens[57] = 300;
  const hid_t f = H5Fcreate(bad.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t n = tokens.size(), one = 1;
  const hid_t sp = H5Screate_simple(1, &n, nullptr);
  const hid_t ds = H5Dcreate2(f, "tokens", H5T_STD_U16LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, tokens.data());
  const uint64_t zero = 0;
  const hid_t sp1 = H5Screate_simple(1, &one, nullptr);
  const hid_t off = H5Dcreate2(f, "doc_offsets", H5T_STD_U64LE, sp1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(off, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero);
  auto int_attr = [&](const char* name, int v) {
    const hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(f, name, H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Sclose(s);
  };
  auto str_attr = [&](const char* name, const std::string& v) {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, v.size());
    const hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v.c_str());
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
  };
  str_attr("kiln_format", "tokens");
  int_attr("format_version", 1);
  int_attr("vocab_size", 256);
  int_attr("eot_token", -1);
  str_attr("tokenizer", "byte:test");
  H5Dclose(off);
  H5Sclose(sp1);
  H5Dclose(ds);
  H5Sclose(sp);
  H5Fclose(f);
  const Result r = run("train " + cfg + " 'data.train=" + bad + "'");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(bad), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("300"), std::string::npos) << r.out;
}

// A run folder as kiln train leaves it: four logged steps and one evaluation.
void write_plot_run(const std::string& dir) {
  std::string metrics;
  for (int step : {1, 10, 20, 30})
    metrics += "{\"step\":" + std::to_string(step) + ",\"tokens\":" + std::to_string(step * 2048) +
               ",\"loss\":" + std::to_string(5.5 - 0.08 * step) + ",\"lr\":0.001}\n";
  kiln_test::write_file(dir + "/metrics.jsonl", metrics);
  kiln_test::write_file(dir + "/eval.jsonl", "{\"step\":30,\"tokens\":61440,\"val_loss\":3.1,\"val_perplexity\":22.2}\n");
}

TEST(Cli, PlotWritesTheFileItNames) {
  const std::string dir = kiln_test::scratch_dir("cli");
  write_plot_run(dir + "/runs/a");
  write_plot_run(dir + "/runs/b");
#if !KILN_HAVE_CAIRO
  // Built with -DKILN_WITH_PLOT=OFF: the refusal is the behaviour to check.
  const Result off = run("plot " + dir + "/runs/a --out " + dir + "/ab.png");
  EXPECT_EQ(off.code, 2) << off.out;
  EXPECT_NE(off.out.find("built without cairo"), std::string::npos) << off.out;
  EXPECT_FALSE(fs::exists(dir + "/ab.png"));
  GTEST_SKIP() << "kiln built with KILN_WITH_PLOT=OFF: nothing is drawn";
#endif
  Result r = run("plot " + dir + "/runs/a " + dir + "/runs/b --out " + dir + "/ab.png --smoothing 0.6");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/ab.png"));
  EXPECT_NE(r.out.find(dir + "/ab.png"), std::string::npos) << r.out;
  // Without --out: curves.svg in the (first) run folder.
  r = run("plot " + dir + "/runs/a");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/runs/a/curves.svg"));
  EXPECT_NE(r.out.find(dir + "/runs/a/curves.svg"), std::string::npos) << r.out;
}

TEST(Cli, PlotBadInputExitsTwoNamingIt) {
  const std::string dir = kiln_test::scratch_dir("cli");
  write_plot_run(dir + "/runs/a");
  Result r = run("plot " + dir + "/runs/a --out " + dir + "/curves.jpg");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(dir + "/curves.jpg"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(".svg or .png expected"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/curves.jpg"));
  r = run("plot " + dir + "/runs/missing --out " + dir + "/c.svg");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(dir + "/runs/missing"), std::string::npos) << r.out;
  kiln_test::write_file(dir + "/runs/bad/metrics.jsonl", "{\"step\":1,\"tokens\":2048,\"loss\":5.5}\nnot json\n");
  r = run("plot " + dir + "/runs/bad --out " + dir + "/c.svg");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(dir + "/runs/bad/metrics.jsonl:2"), std::string::npos) << r.out;
  r = run("plot " + dir + "/runs/a --smoothing 1.5 --out " + dir + "/c.svg");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--smoothing"), std::string::npos) << r.out;
}

TEST(Cli, EmptyCorpusExitsTwoNamingTheInput) {
  const std::string dir = kiln_test::scratch_dir("cli");
  fs::create_directories(dir + "/nothing");
  Result r = run("prepare --input " + dir + "/nothing --out " + dir + "/out");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(dir + "/nothing"), std::string::npos) << r.out;
  kiln_test::write_file(dir + "/empty.txt", "");
  r = run("prepare --input " + dir + "/empty.txt --out " + dir + "/out");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("empty.txt"), std::string::npos) << r.out;
  r = run("prepare --input " + dir + "/does-not-exist.txt --out " + dir + "/out");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("does-not-exist.txt"), std::string::npos) << r.out;
  r = run("prepare --input " + dir + "/empty.txt --out " + dir + "/out --val-fraction 1.5");
  EXPECT_EQ(r.code, 2) << r.out;
}

}  // namespace
