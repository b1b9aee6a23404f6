// tests/parallel/test_watchdog.cpp
// The collective watchdog (parallel/watchdog.h) end to end: watchdog_probe under mpirun with a rank
// that stalls and with ranks that take different branches. Every rank must be gone within
// timeout + 10 s, mpirun must exit with 5, and the report must name the collective, the step and
// the rank(s) that did not arrive. The report text itself is checked against hand-made answers.
// (The known answers of every collective through the watched path: test_comm.cpp, "mpi_watched".)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>

#include "parallel/watchdog.h"

namespace {

struct Result {
  int code = -1;
  std::string out;
  double seconds = 0;
};

Result mpirun(int np, const std::string& args) {
  const std::string cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 mpirun -np " +
                          std::to_string(np) + " --oversubscribe " + KILN_WATCHDOG_PROBE + " " + args + " 2>&1";
  const auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  Result r;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Watchdog, EveryRankArrivingCompletesNormally) {
  const Result r = mpirun(3, "ok 5");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "watchdog_probe: ok")) << r.out;
}

TEST(Watchdog, AStalledRankEndsTheJobWithinTimeoutPlusTenSeconds) {
  const double timeout = 3;
  const Result r = mpirun(3, "stall 3");
  std::printf("stall, 3 ranks, timeout %g s: mpirun exited %d after %.2f s\n", timeout, r.code, r.seconds);
  EXPECT_EQ(r.code, parallel::kWatchdogExitCode) << r.out;
  EXPECT_LT(r.seconds, timeout + 10) << r.out;
  EXPECT_GE(r.seconds, timeout) << "ended before the deadline";
  // Ranks 0 and 2 wait in the dp group's second all_reduce; rank 1 sleeps and cannot answer.
  EXPECT_TRUE(has(r.out, "kiln: error: collective watchdog: all_reduce #2 on the dp group did not complete within 3 s "
                         "(step 7, probe); did not arrive: rank 1")) << r.out;
  EXPECT_TRUE(has(r.out, "rank 1: no answer: busy outside any collective")) << r.out;
  EXPECT_TRUE(has(r.out, "arrived: ranks 0, 2")) << r.out;
}

TEST(Watchdog, RanksOnDifferentBranchesAreNamedWithWhereTheyWait) {
  const Result r = mpirun(2, "diverge 2");
  std::printf("diverge, 2 ranks, timeout 2 s: mpirun exited %d after %.2f s\n", r.code, r.seconds);
  EXPECT_EQ(r.code, parallel::kWatchdogExitCode) << r.out;
  EXPECT_LT(r.seconds, 2 + 10) << r.out;
  // Whichever rank times out first reports; both points of view name the other rank and where it is.
  const bool from0 = has(r.out, "barrier #1 on the world group did not complete within 2 s (step 7, probe); did not "
                                "arrive: rank 1\n  rank 1: waits in all_reduce #2 on the dp group");
  const bool from1 = has(r.out, "all_reduce #2 on the dp group did not complete within 2 s (step 7, probe); did not "
                                "arrive: rank 0\n  rank 0: waits in barrier #1 on the world group");
  EXPECT_TRUE(from0 || from1) << r.out;
  EXPECT_TRUE(has(r.out, "(the ranks took different branches)")) << r.out;
}

TEST(WatchdogReport, NamesMissingRanksAndWhereTheOthersAre) {
  parallel::TimeoutReport r;
  r.group = "tp", r.op = "all_gather", r.group_key = 9, r.seq = 41, r.step = 12, r.phase = "train";
  r.timeout_s = 600, r.self = 4;
  parallel::RankWhere silent;
  silent.world_rank = 5;
  parallel::RankWhere same = silent;
  same.world_rank = 6, same.answered = true, same.waiting = true, same.group_key = 9, same.seq = 41, same.op = "all_gather";
  parallel::RankWhere elsewhere = same;
  elsewhere.world_rank = 7, elsewhere.group_key = 3, elsewhere.group = "dp", elsewhere.op = "all_reduce";
  elsewhere.seq = 80, elsewhere.seq_on_asked = 40, elsewhere.step = 12, elsewhere.phase = "train", elsewhere.waited_s = 599;
  r.peers = {silent, same, elsewhere};
  EXPECT_EQ(parallel::format_timeout_report(r),
            "collective watchdog: all_gather #41 on the tp group did not complete within 600 s (step 12, train); "
            "did not arrive: ranks 5, 7\n"
            "  rank 5: no answer: busy outside any collective (stalled, still computing) or dead\n"
            "  rank 7: waits in all_reduce #80 on the dp group (step 12, train) for 599 s; it has issued 40 "
            "collectives on the tp group (the ranks took different branches)\n"
            "  arrived: ranks 4, 6 (this rank: 4)\n"
            "  ending every rank of the job (exit 5); raise parallel.timeout_s if a rank legitimately needs longer "
            "(checkpoint writes, evaluation)");
}

}  // namespace
