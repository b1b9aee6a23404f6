// tests/checkpoint/test_sigkill.cpp
// Crash consistency: a child process resumes and saves in a loop (as a trainer would: clean_stale,
// find_resume, then begin/commit every "step"); the parent SIGKILLs it after a random delay, many
// times. After every kill: `latest` names an existing complete folder, nothing is ever found
// corrupt (SIGKILL cannot damage committed data), find_resume's step never goes backwards, and the
// chosen checkpoint loads exactly the values of its step. The test prints where the kills landed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fcntl.h>
#include <map>
#include <random>
#include <thread>

#include "checkpoint/checkpoint.h"
#include "checkpoint/internal.h"
#include "parallel/comm_self.h"
#include "tests/common/test_support.h"

namespace {

namespace fs = std::filesystem;
constexpr int kKeep = 2;
constexpr int kIterations = 60;
constexpr int64_t kRows = 512, kCols = 512;  // 4 tensors of 256 Ki elements: ~3.7 MB per save

// Integers, exact in fp32 (tensor t3 is bf16 and holds them rounded), so the check is equality.
float cell(int64_t step, int t, int64_t i) {
  const float v = float((i * 7 + t) % 200) + float(step % 50) * 256.f;
  return t == 3 ? kernels::round_to(kernels::DType::BF16, v) : v;
}

struct State {
  std::vector<std::vector<float>> f32;
  std::vector<kernels::bf16> b16;
  std::vector<checkpoint::Piece> pieces;
  explicit State(int64_t step) : f32(3, std::vector<float>(size_t(kRows * kCols))), b16(size_t(kRows * kCols)) {
    for (int t = 0; t < 4; ++t) {
      checkpoint::Piece p;
      p.tensor = std::string("t").append(std::to_string(t));
      p.dtype = t < 3 ? kernels::DType::F32 : kernels::DType::BF16;
      p.global_shape = kernels::Shape{kRows, kCols};
      p.split = t == 1 ? parallel::Split::kCols : parallel::Split::kRows;
      p.tp = 2;
      for (int r = 0; r < 2; ++r) {  // two tp halves, as two ranks would give them
        p.tp_rank = r;
        p.count = kRows * kCols / 2;
        for (int64_t e = 0; e < p.count; ++e) {
          const float v = cell(step, t, parallel::global_index(p.global_shape, p.split, 2, r, e));
          if (t < 3) f32[size_t(t)][size_t(r * p.count + e)] = v;
          else b16[size_t(r * p.count + e)] = kernels::bf16(v);
        }
        p.data = t < 3 ? static_cast<void*>(f32[size_t(t)].data() + r * p.count) : static_cast<void*>(b16.data() + r * p.count);
        pieces.push_back(p);
      }
    }
  }
};

checkpoint::RunState run_state(int64_t step) {
  checkpoint::RunState st;
  st.step = step;
  st.tokens = step * 1000;
  st.config_yaml = "model: {}\n";
  return st;
}

[[noreturn]] void child_trainer(const std::string& dir) {
  const int devnull = ::open("/dev/null", O_WRONLY);
  ::dup2(devnull, 2);  // find_resume and clean_stale talk on stderr; keep the test log readable
  parallel::SelfComm self;
  checkpoint::clean_stale(dir);
  int64_t step = 0;
  if (auto r = checkpoint::find_resume(dir, self)) step = checkpoint::read_manifest(*r).state.step;
  checkpoint::Saver saver(dir, kKeep, self);
  for (;;) {
    ++step;
    State s(step);
    saver.begin(run_state(step), s.pieces);
    saver.commit(true);
  }
}

// Where the kill landed, judged from what it left on disk (first match wins).
std::string classify(const std::string& dir) {
  bool tmp_plain = false, tmp_with_manifest = false, deleting = false, latest_tmp = false;
  int complete = 0;
  int64_t newest = -1;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    int64_t s = 0;
    if (n == "latest.tmp") latest_tmp = true;
    else if (n.find(".deleting.tmp") != std::string::npos) deleting = true;
    else if (n.size() > 4 && n.substr(n.size() - 4) == ".tmp")
      (fs::exists(e.path() / "manifest.yaml") ? tmp_with_manifest : tmp_plain) = true;
    else if (checkpoint::detail::parse_step_name(n, &s)) ++complete, newest = std::max(newest, s);
  }
  const std::string latest = checkpoint::detail::read_latest(dir);
  if (tmp_with_manifest) return "after the manifest, before the folder rename";
  if (newest >= 0 && latest != checkpoint::detail::step_name(newest)) return "between the folder rename and `latest`";
  if (latest_tmp) return "while replacing `latest`";
  if (deleting || complete > kKeep) return "during retention (keep_last)";
  if (tmp_plain) return "while ranks wrote their files";
  return "between saves (copy, start-up)";
}

TEST(Faults, SigkillDuringSavesNeverLosesTheLastCompleteCheckpoint) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  // How long one save takes here, so the kill delays span several saves.
  const auto t0 = std::chrono::steady_clock::now();
  {
    parallel::SelfComm self;
    checkpoint::Saver saver(dir + "/probe", 1, self);
    State s(1);
    saver.begin(run_state(1), s.pieces);
    saver.commit(true);
  }
  const double save_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  fs::remove_all(dir + "/probe");
  const unsigned seed = unsigned(std::random_device{}());
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> delay_ms(0.0, 6.0 * save_ms + 20.0);
  std::printf("one save takes %.1f ms; kill delays uniform in [0, %.1f] ms; seed %u\n", save_ms, 6.0 * save_ms + 20.0,
              seed);

  std::map<std::string, int> landed;
  int64_t last_step = -1;
  int advanced = 0;
  for (int it = 0; it < kIterations; ++it) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) child_trainer(dir);
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child died on its own: " << status;

    landed[classify(dir)]++;
    // `latest` always names a folder that exists and holds a manifest.
    const std::string latest = checkpoint::detail::read_latest(dir);
    if (!latest.empty()) {
      EXPECT_TRUE(fs::exists(dir + "/" + latest + "/manifest.yaml")) << "latest = " << latest;
    }
    parallel::SelfComm self;
    const std::optional<std::string> found = checkpoint::find_resume(dir, self);
    for (const auto& e : fs::directory_iterator(dir))
      EXPECT_EQ(e.path().filename().string().find(".corrupt"), std::string::npos) << "iteration " << it;
    if (last_step >= 0) {
      ASSERT_TRUE(found.has_value()) << "iteration " << it << ": the last checkpoint vanished";
    }
    if (!found) continue;
    const checkpoint::Manifest m = checkpoint::read_manifest(*found);
    EXPECT_GE(m.state.step, last_step) << "iteration " << it;
    if (m.state.step > last_step) ++advanced;
    last_step = m.state.step;
    EXPECT_EQ(m.state.tokens, last_step * 1000);
    // Load as whole tensors (tp = 1): every value is that of the manifest's step.
    std::vector<std::vector<float>> got(4, std::vector<float>(size_t(kRows * kCols)));
    std::vector<checkpoint::Piece> reqs;
    for (int t = 0; t < 4; ++t) {
      checkpoint::Piece p;
      p.tensor = std::string("t").append(std::to_string(t));
      p.global_shape = kernels::Shape{kRows, kCols};
      p.split = t == 1 ? parallel::Split::kCols : parallel::Split::kRows;
      p.count = kRows * kCols;
      p.data = got[size_t(t)].data();
      reqs.push_back(p);
    }
    checkpoint::load(m, reqs);
    for (int t = 0; t < 4; ++t)
      for (int64_t i = 0; i < kRows * kCols; i += 97)
        ASSERT_EQ(got[size_t(t)][size_t(i)], cell(last_step, t, i)) << "tensor t" << t << " element " << i;
  }
  std::printf("%d SIGKILLs, the checkpoint advanced after %d of them, last complete step %lld; kills landed:\n",
              kIterations, advanced, static_cast<long long>(last_step));
  for (const auto& [where, n] : landed) std::printf("  %3d  %s\n", n, where.c_str());
  EXPECT_GT(advanced, kIterations / 4);
  checkpoint::clean_stale(dir);
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().extension().string() == ".tmp", false) << e.path();
}

}  // namespace
