// tests/trainer/test_parallel_equivalence.cpp   (run under mpirun -np 4, and -np 2)
// Parallel code proven by equivalence: 20 training steps of a small GPT-2 under a dp x tp layout
// give the per-step losses of one rank with the same seed and data, within 1e-5 relative (fp32,
// CPU, MPI backend). Each rank also computes the one-rank reference itself, so nothing is shared
// but the shards on disk.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/prepare.h"
#include "parallel/comm_counting.h"
#include "parallel/comm_mpi.h"
#include "parallel/groups.h"
#include "parallel/layout.h"
#include "tests/common/test_support.h"
#include "tests/trainer/trainer_test_util.h"
#include "model/comm_volume.h"
#include "trainer/trainer.h"
#include "tests/common/one_rank.h"

namespace {

namespace fs = std::filesystem;

// MPI_COMM_WORLD (the MPI test main initialised MPI); kept for the whole run.
parallel::Comm& world() {
  static std::unique_ptr<parallel::Comm> w = parallel::MpiComm::world();
  return *w;
}

// Shards of a small structured corpus, written once by world rank 0.
std::string corpus() {
  static std::string dir;
  if (!dir.empty()) return dir;
  const char* env = std::getenv("KILN_TEST_TMP");
  dir = (fs::path(env ? env : "/tmp/kiln_test") / "trainer_mpi_corpus").string();
  if (world().rank() == 0) {
    fs::remove_all(dir);
    trainer_test::prepare_phrase_corpus(dir, 6, 400, [](int i, int d) {
      return (i + d) % 3 ? "the sea was calm. " : "a whale rose near the ship! ";
    });
  }
  world().barrier();
  return dir;
}

configs::Config small_config(const std::string& name) {
  configs::Config c = trainer_test::cpu_run_config(corpus(), name, /*n_head=*/4);
  c.train.global_batch = 8;
  c.train.max_steps = 20;
  c.train.log_every = 5;
  c.eval.every = 0;
  return c;
}

std::vector<double> one_rank_losses() {
  static std::vector<double> losses;
  if (losses.empty()) {
    trainer::Trainer t(small_config("ref_r" + std::to_string(world().rank())), kiln_test::one_rank_cpu());
    losses = t.run().losses;
  }
  return losses;
}

// Trains on `comm` (all of whose ranks call this) with tp and zero; returns the per-step losses.
// timeout_s > 0 arms the collective watchdog, as kiln train does by default.
std::vector<double> layout_losses(std::unique_ptr<parallel::Comm> comm, int tp, int zero, const std::string& name,
                                  double timeout_s = 0) {
  configs::Config c = small_config(name);
  c.parallel.tp = tp;
  c.parallel.zero = zero;
  const parallel::Layout layout = parallel::make_layout(comm->size(), comm->rank(), c);
  parallel::ProcessGroups groups = parallel::make_groups(std::move(comm), layout, kernels::Device::kCpu);
  parallel::arm_watchdog(groups, timeout_s);
  trainer::Trainer t(c, groups);
  return t.run().losses;
}

void expect_same_losses(const std::vector<double>& got, const char* what) {
  const std::vector<double> ref = one_rank_losses();
  ASSERT_EQ(got.size(), ref.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(got[i] - ref[i]) / std::fabs(ref[i]));
  EXPECT_LT(worst, 1e-5) << what << ": worst relative loss difference over " << ref.size() << " steps";
  EXPECT_LT(ref.back(), ref.front() - 0.5) << "the reference must learn, or equal losses prove little";
  if (world().rank() == 0)
    std::printf("%s: %zu steps, loss %.5f -> %.5f, worst relative difference to one rank %.3e\n", what, ref.size(),
                ref.front(), ref.back(), worst);
}

TEST(ParallelEquivalence, DataAndTensorParallelLayoutsMatchOneRank) {
  if (world().size() != 4) GTEST_SKIP() << "needs mpirun -np 4";
  expect_same_losses(layout_losses(world().split(0, world().rank()), 2, 0, "dp2_tp2"), "(dp,tp)=(2,2)");
  expect_same_losses(layout_losses(world().split(0, world().rank()), 1, 0, "dp4_tp1"), "(dp,tp)=(4,1)");
  expect_same_losses(layout_losses(world().split(0, world().rank()), 4, 0, "dp1_tp4"), "(dp,tp)=(1,4)");
}

TEST(ParallelEquivalence, ZeroOneMatchesOneRank) {
  if (world().size() < 2) GTEST_SKIP() << "needs mpirun -np 2 or more";
  // Pairs of ranks each train a dp=2 zero-1 run of their own.
  const int half = world().rank() / 2;
  expect_same_losses(layout_losses(world().split(half, world().rank()), 1, 1, "dp2_zero1_" + std::to_string(half)),
                     "(dp,tp)=(2,1) zero 1");
}

TEST(ParallelEquivalence, UnderTheCollectiveWatchdogToo) {
  // kiln train arms the watchdog by default (parallel.timeout_s): every MPI collective then runs
  // in its non-blocking form through the polling loop (parallel/mpi_watch.cpp). Same model.
  if (world().size() != 4) GTEST_SKIP() << "needs mpirun -np 4";
  expect_same_losses(layout_losses(world().split(0, world().rank()), 2, 1, "watched_dp2_tp2_zero1", 120.0),
                     "(dp,tp)=(2,2) zero 1, watchdog armed");
  expect_same_losses(layout_losses(world().split(0, world().rank()), 1, 0, "watched_dp4_tp1", 120.0),
                     "(dp,tp)=(4,1), watchdog armed");
}

TEST(ParallelEquivalence, TensorParallelWithZeroAndPaddedVocab) {
  if (world().size() != 4) GTEST_SKIP() << "needs mpirun -np 4";
  expect_same_losses(layout_losses(world().split(0, world().rank()), 2, 1, "dp2_tp2_zero1"), "(dp,tp)=(2,2) zero 1");
}

}  // namespace

namespace {

// One optimizer step's traffic, measured by CountingComm on the tp and dp groups, equals the
// formula of trainer/comm_volume.h (which bench/comm_volume.cpp tabulates for large models).
void expect_counted_volume(int tp, int zero) {
  configs::Config c = small_config("count_tp" + std::to_string(tp) + "_z" + std::to_string(zero));
  c.parallel.tp = tp;
  c.parallel.zero = zero;
  const parallel::Layout layout = parallel::make_layout(world().size(), world().rank(), c);
  parallel::ProcessGroups g = parallel::make_groups(world().split(0, world().rank()), layout, kernels::Device::kCpu);
  auto* tp_count = new parallel::CountingComm(std::move(g.tp));
  auto* dp_count = new parallel::CountingComm(std::move(g.dp));
  g.tp.reset(tp_count);
  g.dp.reset(dp_count);
  trainer::Trainer t(c, g);
  tp_count->reset();
  dp_count->reset();
  t.train_step();
  const model::StepCommVolume want = model::step_comm_volume(c, layout.dp, layout.tp, kernels::DType::F32);
  EXPECT_EQ(tp_count->counts().total(), want.tp_payload) << "tp=" << tp << " zero=" << zero;
  EXPECT_EQ(dp_count->counts().total(), want.dp_payload) << "tp=" << tp << " zero=" << zero;
  if (world().rank() == 0)
    std::printf("measured bytes per step, (dp,tp)=(%d,%d) zero %d: tp %lld, dp %lld (formula: %lld, %lld)\n", layout.dp,
                layout.tp, zero, (long long)tp_count->counts().total(), (long long)dp_count->counts().total(),
                (long long)want.tp_payload, (long long)want.dp_payload);
}

TEST(CommVolume, MeasuredBytesEqualTheFormula) {
  if (world().size() != 4) GTEST_SKIP() << "needs mpirun -np 4";
  expect_counted_volume(2, 0);
  expect_counted_volume(2, 1);
  expect_counted_volume(1, 0);
  expect_counted_volume(4, 0);
}

}  // namespace

namespace {

// Checkpoints under a layout: (2,2) interrupted at step 7 and resumed as (2,2) is bit-identical to
// the straight (2,2) run; resumed as (1,1), (4,1) or (1,4) it continues the one-rank losses within
// 1e-5 relative (the checkpoint stores global coordinates; each layout reads its own pieces).
configs::Config ckpt_config(const std::string& name, int tp, int zero) {
  configs::Config c = small_config(name);
  c.parallel.tp = tp;
  c.parallel.zero = zero;
  c.checkpoint.every = 0;
  c.checkpoint.resume = "auto";
  return c;
}

trainer::RunSummary run_layout(configs::Config c, std::unique_ptr<parallel::Comm> comm, int stop_at = -1) {
  const parallel::Layout layout = parallel::make_layout(comm->size(), comm->rank(), c);
  parallel::ProcessGroups groups = parallel::make_groups(std::move(comm), layout, kernels::Device::kCpu);
  trainer::Trainer t(c, groups);
  return t.run(stop_at);
}

void expect_tail_close(const std::vector<double>& got, size_t first_step, const char* what) {
  const std::vector<double> ref = one_rank_losses();
  ASSERT_EQ(got.size() + first_step - 1, ref.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::fabs(got[i] - ref[i + first_step - 1]) / std::fabs(ref[i + first_step - 1]));
  EXPECT_LT(worst, 1e-5) << what;
  if (world().rank() == 0) std::printf("%s: steps %zu..%zu, worst relative difference to one rank %.3e\n", what, first_step, ref.size(), worst);
}

TEST(ParallelCheckpoint, ResumeIsExactAndReshardsToEveryLayout) {
  if (world().size() != 4) GTEST_SKIP() << "needs mpirun -np 4";
  for (int zero : {0, 1}) {
    const std::string tag = "z" + std::to_string(zero);
    const std::vector<double> straight = run_layout(ckpt_config("ck_straight_" + tag, 2, zero), world().split(0, world().rank())).losses;
    const trainer::RunSummary first = run_layout(ckpt_config("ck_split_" + tag, 2, zero), world().split(0, world().rank()), 7);
    ASSERT_TRUE(first.stopped_by_signal);
    const trainer::RunSummary second = run_layout(ckpt_config("ck_split_" + tag, 2, zero), world().split(0, world().rank()));
    EXPECT_EQ(second.resumed_from_step, 7);
    std::vector<double> joined = first.losses;
    joined.insert(joined.end(), second.losses.begin(), second.losses.end());
    ASSERT_EQ(joined.size(), straight.size());
    for (size_t i = 0; i < straight.size(); ++i) EXPECT_EQ(joined[i], straight[i]) << "zero " << zero << ": step " << i + 1;

    const std::string saved = corpus() + "/runs/ck_split_" + tag + "/checkpoints/step_00000007";
    for (const auto& [dp, tp] : {std::pair{1, 1}, std::pair{4, 1}, std::pair{1, 4}}) {
      configs::Config c = ckpt_config("ck_from22_" + tag + "_dp" + std::to_string(dp) + "tp" + std::to_string(tp), tp, 0);
      c.checkpoint.resume = saved;  // an explicit checkpoint, written by (2,2)
      std::vector<double> tail;
      if (dp * tp == 1) {
        if (world().rank() == 0) tail = trainer::Trainer(c, kiln_test::one_rank_cpu()).run().losses;  // one rank on its own
        else {  // the other ranks stand by: they hold the reference itself
          const std::vector<double> ref = one_rank_losses();
          tail.assign(ref.begin() + 7, ref.end());
        }
      } else {
        tail = run_layout(c, world().split(0, world().rank())).losses;
      }
      const std::string what = "saved (2,2) zero " + std::to_string(zero) + " -> resumed (" + std::to_string(dp) + "," + std::to_string(tp) + ")";
      expect_tail_close(tail, 8, what.c_str());
      world().barrier();
    }
  }
}

}  // namespace
