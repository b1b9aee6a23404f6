// tests/tools/test_guards_cli.cpp
// Issue 15's must-shows for the guards, on the real `kiln` binary (alone and under mpirun -np 2):
//   - optim.lr=1e30 (loss NaN from step 2): exit 4 after train.max_skipped_steps skips in a row,
//     every checkpoint finite, and `kiln sample` / `kiln eval` on it refuse with exit 2;
//   - a NaN gradient injected at step 5 on rank 1 (KILN_TEST_FAULT, test-only): the step is skipped,
//     rank 1 and the tensor are named, the run finishes (exit 0); 10 in a row stop it (exit 4);
//   - weights that overflow are never checkpointed (exit 4);
//   - a checkpoint holding a NaN (written by hand) is refused by sample and eval (exit 2);
//   - the collective watchdog: a rank that stalls inside a step or dies ends every rank within
//     timeout + 10 s of the fault, with the report (exit 5) or the launcher's message;
//   - the replay check: on, the losses are the same bits; a forced mismatch stops the run (exit 4).
// Each case checks the exit code and the first line of the message.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <fstream>
#include <regex>
#include <sstream>

#include "checkpoint/checkpoint.h"
#include "kernels/finite.h"
#include "tests/tools/cli_test_util.h"

namespace {

const std::string kMpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
                            "mpirun -np 2 --oversubscribe ";
// Under mpirun the runs below keep a short watchdog: a guard that let the ranks take different
// branches would fail the test in 30 s (exit 5) instead of hanging it.
const std::string kShortWatchdog = " parallel.timeout_s=30";

// The prepared corpus and config, once per binary.
const std::string& config() {
  static const std::string cfg = prepared(kiln_test::scratch_dir("guards_cli"));
  return cfg;
}
std::string dir_of_runs() { return fs::path(config()).parent_path().string() + "/runs"; }

// kiln train on the prepared config; `env` (e.g. "KILN_TEST_FAULT=...") and `launcher` go first.
Result train(const std::string& name, const std::string& overrides, const std::string& env = "",
             const std::string& launcher = "") {
  return shell(env + " " + launcher + KILN_BIN + " train " + config() + " run.name=" + name + " " + overrides +
               (launcher.empty() ? "" : kShortWatchdog));
}

// The first line of `out` that starts with `prefix` (after any "[rank R/N host] ").
std::string first_line(const std::string& out, const std::string& prefix) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find(prefix);
    if (at != std::string::npos && (at == 0 || line[0] == '[')) return line;
  }
  return "";
}

// Every value of every tensor of every checkpoint of a run is finite (read back through the loader,
// which also checks each slice's CRC). Returns how many checkpoints it read.
int expect_checkpoints_finite(const std::string& run) {
  int read = 0;
  for (const auto& e : fs::directory_iterator(run + "/checkpoints")) {
    if (!e.is_directory() || e.path().filename().string().rfind("step_", 0) != 0) continue;
    const checkpoint::Manifest m = checkpoint::read_manifest(e.path().string());
    std::vector<checkpoint::Piece> pieces;
    std::vector<std::vector<unsigned char>> memory;
    for (const checkpoint::Manifest::Entry& t : m.tensors) {
      checkpoint::Piece p;
      p.tensor = t.name;
      p.dtype = t.dtype;
      p.global_shape = t.global_shape;
      p.split = t.split;
      p.count = t.global_shape.numel();
      memory.emplace_back(size_t(p.count) * kernels::dtype_size(t.dtype));
      p.data = memory.back().data();
      pieces.push_back(p);
    }
    checkpoint::load(m, pieces);
    for (const checkpoint::Piece& p : pieces)
      EXPECT_TRUE(kernels::scan_finite(p.data, p.dtype, p.count).finite()) << e.path() << " " << p.tensor;
    ++read;
  }
  return read;
}

// metrics.jsonl of a run: step -> the line's object.
std::map<int, nlohmann::json> metrics(const std::string& run) {
  std::map<int, nlohmann::json> m;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    m[j["step"].get<int>()] = j;
  }
  return m;
}

TEST(GuardsCli, HugeLearningRateStopsWithExitFourAndUsableMessages) {
  const Result r = train("lr", "optim.lr=1e30 train.max_steps=30 checkpoint.every=1");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_EQ(first_line(r.out, "kiln: warning:").rfind("kiln: warning: step 2 skipped: non-finite loss (loss nan", 0), 0u)
      << r.out;
  EXPECT_EQ(first_line(r.out, "kiln: error:"),
            "kiln: error: training stopped at step 11: 10 steps in a row were skipped (steps 2 to 11; non-finite loss "
            "or gradients, or loss spikes), reaching train.max_skipped_steps = 10. The weights are those before step "
            "2; lower optim.lr, raise optim.warmup_steps, or check the data. Exit code 4")
      << r.out;
  EXPECT_EQ(expect_checkpoints_finite(dir_of_runs() + "/lr"), 3) << "keep_last 3 of steps 1..10";

  // The weights are finite but huge: the forward pass overflows. sample and eval refuse (exit 2).
  const std::string ckpt = dir_of_runs() + "/lr";
  Result s = run("sample --checkpoint " + ckpt + " --prompt 'call me' --max-new-tokens 5");
  EXPECT_EQ(s.code, 2) << s.out;
  EXPECT_EQ(first_line(s.out, "kiln: error:").rfind("kiln: error: checkpoint " + ckpt + "/checkpoints/step_00000010: "
                                                    "the model's logits for new token 1 are not finite", 0), 0u) << s.out;
  const std::string val = fs::path(config()).parent_path().string() + "/shards/val_*.h5";
  Result e = run("eval --checkpoint " + ckpt + " --data '" + val + "'");
  EXPECT_EQ(e.code, 2) << e.out;
  EXPECT_EQ(first_line(e.out, "kiln: error:"), "kiln: error: checkpoint " + ckpt + "/checkpoints/step_00000010: the "
                                               "loss on '" + val + "' is not finite: its weights overflow the forward pass")
      << e.out;
}

TEST(GuardsCli, NanOnOneRankAtStepFiveIsSkippedNamedAndTheRunFinishes) {
  const Result r = train("nan5", "train.global_batch=4 train.max_steps=8 checkpoint.every=1 checkpoint.keep_last=10",
                         "KILN_TEST_FAULT=nan_grad@5:1", kMpirun);
  EXPECT_EQ(r.code, 0) << r.out;
  const std::string warn = first_line(r.out, "kiln: warning:");
  const std::regex want("kiln: warning: step 5 skipped: non-finite gradients \\(loss [0-9.]+, gradient norm nan\\); "
                        "rank 1: first non-finite gradient: [a-z_.0-9]+ in micro-batch 1 of 1 \\(1 of [0-9]+ values\\); "
                        "rank 0: finite; largest \\|weight\\| [0-9.e+]+ \\[1 of train.max_skipped_steps = 10 in a row\\]");
  EXPECT_TRUE(std::regex_match(warn, want)) << warn;
  EXPECT_EQ(first_line(r.out, "kiln: warning: step 6"), "") << "only step 5 is skipped";
  const auto m = metrics(dir_of_runs() + "/nan5");
  ASSERT_EQ(m.size(), 8u);
  EXPECT_EQ(m.at(4)["skipped_steps"].get<int>(), 0);
  EXPECT_EQ(m.at(5)["skipped_steps"].get<int>(), 1);
  EXPECT_EQ(m.at(8)["skipped_steps"].get<int>(), 1);
  EXPECT_TRUE(std::isfinite(m.at(8)["loss"].get<double>()));
  EXPECT_EQ(expect_checkpoints_finite(dir_of_runs() + "/nan5"), 8);
}

TEST(GuardsCli, TenSkippedStepsInARowOnOneRankExitFour) {
  const Result r = train("nan10", "train.global_batch=4 train.max_steps=30 checkpoint.every=2",
                         "KILN_TEST_FAULT=nan_grad@5-30:1", kMpirun);
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_EQ(first_line(r.out, "kiln: error:").rfind("kiln: error: training stopped at step 14: 10 steps in a row were "
                                                    "skipped (steps 5 to 14;", 0), 0u) << r.out;
  EXPECT_EQ(expect_checkpoints_finite(dir_of_runs() + "/nan10"), 3);
}

TEST(GuardsCli, OverflowingWeightsAreNeverCheckpointed) {
  const Result r = train("inf", "optim.lr=1e300 checkpoint.every=1");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_EQ(first_line(r.out, "kiln: error:").rfind("kiln: error: checkpoint step 1 not written: master/", 0), 0u) << r.out;
  EXPECT_FALSE(fs::exists(dir_of_runs() + "/inf/checkpoints/step_00000001"));
  EXPECT_FALSE(fs::exists(dir_of_runs() + "/inf/checkpoints/latest"));
}

// A checkpoint with a NaN in it, written by hand (kiln never writes one): one master value is
// overwritten in its HDF5 file and the slice's CRC in manifest.yaml patched to match.
TEST(GuardsCli, SampleAndEvalRefuseANonFiniteCheckpoint) {
  ASSERT_EQ(train("poison", "checkpoint.every=2").code, 0);
  const std::string ck = dir_of_runs() + "/poison/checkpoints/step_00000002";
  const checkpoint::Manifest m = checkpoint::read_manifest(ck);
  const checkpoint::Manifest::Entry* e = m.find("master/wte");
  ASSERT_NE(e, nullptr);
  const checkpoint::Manifest::Entry::Slice& sl = e->slices.at(0);
  std::vector<float> values(size_t(sl.count));
  const hid_t f = H5Fopen((ck + "/" + sl.file).c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t d = H5Dopen2(f, sl.dataset.c_str(), H5P_DEFAULT);
  ASSERT_GE(d, 0);
  ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  values[3] = NAN;
  ASSERT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(d);
  H5Fclose(f);
  const uint32_t crc = checkpoint::crc32c(values.data(), values.size() * sizeof(float));
  std::ifstream in(ck + "/manifest.yaml");
  std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto hex = [](uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", v);
    return std::string(buf);
  };
  const size_t at = yaml.find("crc32c: " + hex(sl.crc32c));
  ASSERT_NE(at, std::string::npos) << "the slice's crc in manifest.yaml: " << hex(sl.crc32c);
  yaml.replace(at + 8, 8, hex(crc));
  // The manifest's own checksum, its last line, covers everything before that line.
  const size_t last = yaml.rfind("\nmanifest_crc32c: ");
  ASSERT_NE(last, std::string::npos);
  yaml = yaml.substr(0, last + 1) + "manifest_crc32c: " + hex(checkpoint::crc32c(yaml.data(), last + 1)) + "\n";
  std::ofstream(ck + "/manifest.yaml") << yaml;

  const Result s = run("sample --checkpoint " + ck + " --prompt 'call me'");
  EXPECT_EQ(s.code, 2) << s.out;
  EXPECT_EQ(first_line(s.out, "kiln: error:"), "kiln: error: checkpoint " + ck + ": tensor master/wte holds 1 "
                                               "non-finite value(s) (first at element 3); refusing to use these weights")
      << s.out;
  const std::string val = fs::path(config()).parent_path().string() + "/shards/val_*.h5";
  const Result ev = run("eval --checkpoint " + ck + " --data '" + val + "'");
  EXPECT_EQ(ev.code, 2) << ev.out;
  EXPECT_NE(first_line(ev.out, "kiln: error:").find("tensor master/wte holds 1 non-finite value(s)"), std::string::npos)
      << ev.out;
}

// Runs a shell command, timing each output line: what the watchdog tests measure from (the line
// announcing the fault) to the end of the job.
struct Timed {
  Result r;
  double fault_at = -1, end_at = 0;  // seconds since start
};
Timed run_timed(const std::string& cmd, const std::string& fault_marker) {
  Timed t;
  const auto t0 = std::chrono::steady_clock::now();
  auto now = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char line[8192];
  while (std::fgets(line, sizeof line, p)) {
    if (t.fault_at < 0 && std::strstr(line, fault_marker.c_str())) t.fault_at = now();
    t.r.out += line;
  }
  const int status = pclose(p);
  t.end_at = now();
  t.r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return t;
}

TEST(WatchdogCli, ARankStalledInsideAStepEndsEveryRankWithTheReport) {
  const double timeout = 3;
  const Timed t = run_timed("KILN_TEST_FAULT=stall@3:1:600 " + kMpirun + KILN_BIN + " train " + config() +
                                " run.name=stall train.global_batch=4 train.max_steps=6 parallel.timeout_s=3",
                            "KILN_TEST_FAULT: stalling");
  ASSERT_GE(t.fault_at, 0) << t.r.out;
  std::printf("watchdog, stalled rank, timeout %g s: every rank gone %.2f s after the stall began (exit %d)\n", timeout,
              t.end_at - t.fault_at, t.r.code);
  EXPECT_EQ(t.r.code, 5) << t.r.out;
  EXPECT_LT(t.end_at - t.fault_at, timeout + 10) << t.r.out;
  // Rank 0 finished step 3's backward and waits for rank 1 in the loss average or a gradient bucket.
  const std::string line = first_line(t.r.out, "kiln: error: collective watchdog:");
  const std::regex want("\\[rank 0/2 [^\\]]+\\] kiln: error: collective watchdog: all_reduce #[0-9]+ on the dp group "
                        "did not complete within 3 s \\(step 3, train\\); did not arrive: rank 1");
  EXPECT_TRUE(std::regex_match(line, want)) << t.r.out;
  EXPECT_NE(t.r.out.find("rank 1: no answer: busy outside any collective"), std::string::npos) << t.r.out;
}

TEST(WatchdogCli, AKilledRankEndsEveryRank) {
  const Timed t = run_timed("KILN_TEST_FAULT=die@3:1 " + kMpirun + KILN_BIN + " train " + config() +
                                " run.name=die train.global_batch=4 train.max_steps=6 parallel.timeout_s=3",
                            "KILN_TEST_FAULT: dying");
  ASSERT_GE(t.fault_at, 0) << t.r.out;
  std::printf("watchdog, killed rank, timeout 3 s: every rank gone %.2f s after the kill (exit %d)\n",
              t.end_at - t.fault_at, t.r.code);
  EXPECT_NE(t.r.code, 0) << t.r.out;
  EXPECT_LT(t.end_at - t.fault_at, 3 + 10) << t.r.out;
  // mpirun sees the death first and ends the job; if it did not, the watchdog's report would follow.
  EXPECT_TRUE(t.r.out.find("exited on signal 9") != std::string::npos ||
              t.r.out.find("collective watchdog") != std::string::npos)
      << t.r.out;
}

TEST(ReplayCli, OnItChangesNoLossAndAForcedMismatchStopsTheRun) {
  const std::string common = "train.global_batch=8 train.max_steps=6 ";  // 2 micro-batches per rank
  ASSERT_EQ(train("replay_off", common, "", kMpirun).code, 0);
  const Result on = train("replay_on", common + "train.replay_check_every=1", "", kMpirun);
  ASSERT_EQ(on.code, 0) << on.out;
  const auto a = metrics(dir_of_runs() + "/replay_off"), b = metrics(dir_of_runs() + "/replay_on");
  ASSERT_EQ(a.size(), 6u);
  for (const auto& [step, j] : a) EXPECT_EQ(j["loss"], b.at(step)["loss"]) << "step " << step;

  const Result bad = train("replay_bad", common + "train.replay_check_every=2 checkpoint.every=1",
                           "KILN_TEST_FAULT=replay_mismatch@4:1", kMpirun);
  EXPECT_EQ(bad.code, 4) << bad.out;
  const std::regex report("\\[rank 1/2 [^\\]]+\\] kiln: error: replay check failed at step 4: the first micro-batch, "
                          "run twice through the same weights, gave loss .*");
  EXPECT_TRUE(std::regex_match(first_line(bad.out, "kiln: error: replay"), report)) << bad.out;
  EXPECT_NE(bad.out.find("kiln: error: training stopped at step 4: the replay check failed"), std::string::npos)
      << bad.out;
  EXPECT_FALSE(fs::exists(dir_of_runs() + "/replay_bad/checkpoints/step_00000004"));
}

}  // namespace
