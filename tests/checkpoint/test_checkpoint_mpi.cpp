// tests/checkpoint/test_checkpoint_mpi.cpp
// Checkpoints under mpirun -np 4: each rank saves what it owns in a tp=2 x dp=2 ZeRO-1 layout
// (its own file, partial ranges of the fp32 state), rank 0 commits, and every rank loads back
// under tp = 1, 2 (other ranges) and 4. Also: a rank 0 without pieces, commit(false) agreeing
// across ranks, retention, find_resume giving every rank the same answer after damage, and a
// model mismatch failing the same way everywhere.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "checkpoint/checkpoint.h"
#include "ckpt_test.h"
#include "tests/common/test_support.h"
#include "tests/parallel/parallel_test.h"

namespace {

namespace fs = std::filesystem;
using namespace ckpt_test;

int64_t broadcast_i32(parallel::Comm& c, int32_t v) {
  kernels::Tensor t{&v, kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{1}};
  c.broadcast(t, 0, kernels::Stream::host());
  return v;
}

// Saves step `step` of the 2 x 2 layout from this world's ranks (world size must be 4).
void save_tp2dp2(const std::string& dir, parallel::Comm& world, int64_t step, int keep_last, bool rank0_empty) {
  checkpoint::Saver saver(dir, keep_last, world);
  Holder h;
  std::vector<checkpoint::Piece> mine;
  if (rank0_empty) {
    // Ranks 1..3 save everything between them (rank 1 takes rank 0's share too).
    if (world.rank() == 1) mine = rank_pieces(h, 0, 2, 2, step);
    if (world.rank() != 0) {
      std::vector<checkpoint::Piece> own = rank_pieces(h, world.rank(), 2, 2, step);
      mine.insert(mine.end(), own.begin(), own.end());
    }
  } else {
    mine = rank_pieces(h, world.rank(), 2, 2, step);
  }
  saver.begin(state_at(step), mine);
  EXPECT_EQ(saver.commit(true), step);
}

void load_everywhere(const checkpoint::Manifest& m, parallel::Comm& world, int64_t step) {
  const int w = world.rank();
  struct Layout {
    int tp, parts;
  } layouts[] = {{1, 1}, {2, 1}, {2, 3}, {4, 2}};
  for (const Layout& l : layouts) {
    Holder h;
    std::vector<checkpoint::Piece> reqs = requests(h, l.tp, w % l.tp, l.parts, true, kernels::DType::F32);
    checkpoint::load(m, reqs);
    expect_loaded(reqs, step, "rank " + std::to_string(w) + " as tp " + std::to_string(l.tp));
  }
}

TEST(CheckpointMpi, Tp2Dp2RoundTripAndReshard) {
  auto world = kiln_test::mpi_world();
  ASSERT_EQ(world->size(), 4) << "run under mpirun -np 4";
  const std::string dir = kiln_test::shared_dir("ckpt_roundtrip", *world).string();
  save_tp2dp2(dir, *world, 100, 3, false);
  EXPECT_TRUE(fs::exists(dir + "/step_00000100/manifest.yaml"));  // visible on every rank after commit
  for (int r = 0; r < 4; ++r) EXPECT_TRUE(fs::exists(dir + "/step_00000100/rank_0000" + std::to_string(r) + ".h5"));
  const checkpoint::Manifest m = checkpoint::read_manifest(dir + "/step_00000100");
  EXPECT_EQ(m.state.dp, 2);
  EXPECT_EQ(m.state.tp, 2);
  load_everywhere(m, *world, 100);
  world->barrier();
}

TEST(CheckpointMpi, RankWithoutPiecesWritesNoDataFile) {
  auto world = kiln_test::mpi_world();
  const std::string dir = kiln_test::shared_dir("ckpt_rank0_empty", *world).string();
  save_tp2dp2(dir, *world, 7, 3, true);
  EXPECT_FALSE(fs::exists(dir + "/step_00000007/rank_00000.h5"));
  EXPECT_TRUE(fs::exists(dir + "/step_00000007/rank_00001.h5"));
  load_everywhere(checkpoint::read_manifest(dir + "/step_00000007"), *world, 7);
  world->barrier();
}

TEST(CheckpointMpi, CommitWithoutWaitingAgreesAcrossRanks) {
  auto world = kiln_test::mpi_world();
  const std::string dir = kiln_test::shared_dir("ckpt_nowait", *world).string();
  checkpoint::Saver saver(dir, 2, *world);
  for (int64_t step = 1; step <= 4; ++step) {
    Holder h;
    saver.begin(state_at(step), rank_pieces(h, world->rank(), 2, 2, step));
    int64_t got = -1;
    int polls = 0;
    while (got < 0) {  // every rank gets the same answer from every poll, so they stay in step
      got = saver.commit(false);
      ++polls;
      if (got < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(got, step);
    // All ranks made the same number of polls (each poll is one collective).
    kernels::Tensor t{&polls, kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{1}};
    int mine = polls;
    world->all_reduce(t, parallel::ReduceOp::kMax, kernels::Stream::host());
    EXPECT_EQ(polls, mine);
  }
  // keep_last = 2: steps 3 and 4 remain, `latest` names 4.
  EXPECT_FALSE(fs::exists(dir + "/step_00000002"));
  EXPECT_TRUE(fs::exists(dir + "/step_00000003"));
  std::ifstream latest(dir + "/latest");
  std::string name;
  latest >> name;
  EXPECT_EQ(name, "step_00000004");
  load_everywhere(checkpoint::read_manifest(dir + "/step_00000004"), *world, 4);
  world->barrier();
}

TEST(CheckpointMpi, FindResumeGivesEveryRankTheSameVerifiedCheckpoint) {
  auto world = kiln_test::mpi_world();
  const std::string dir = kiln_test::shared_dir("ckpt_resume", *world).string();
  save_tp2dp2(dir, *world, 10, 5, false);
  save_tp2dp2(dir, *world, 20, 5, false);
  if (world->rank() == 0) {  // rank 3's file of step 20 loses its tail
    const std::string f = dir + "/step_00000020/rank_00003.h5";
    fs::resize_file(f, fs::file_size(f) - 16);
  }
  world->barrier();
  const std::optional<std::string> found = checkpoint::find_resume(dir, *world);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, dir + "/step_00000010");
  EXPECT_TRUE(fs::exists(dir + "/step_00000020.corrupt"));
  load_everywhere(checkpoint::read_manifest(*found), *world, 10);
  // Saving step 20 again works, and is then the answer.
  save_tp2dp2(dir, *world, 20, 5, false);
  EXPECT_EQ(checkpoint::find_resume(dir, *world), dir + "/step_00000020");
  world->barrier();
}

TEST(CheckpointMpi, ModelMismatchFailsOnEveryRank) {
  auto world = kiln_test::mpi_world();
  const std::string dir = kiln_test::shared_dir("ckpt_mismatch", *world).string();
  save_tp2dp2(dir, *world, 3, 3, false);
  const checkpoint::Manifest m = checkpoint::read_manifest(dir + "/step_00000003");
  Holder h;
  Spec other{"h.0.mlp.c_fc.bias", kernels::Shape{32}, parallel::Split::kRows};
  std::vector<checkpoint::Piece> reqs{make_piece(h, other, "master/h.0.mlp.c_fc.bias", kernels::DType::F32, 2,
                                                 world->rank() % 2, 0, 16, 0, false)};
  const std::string msg = kiln_test::input_error_of([&] { checkpoint::load(m, reqs); });
  EXPECT_HAS(msg, "master/h.0.mlp.c_fc.bias: checkpoint has (16), the model (32)");
  EXPECT_EQ(broadcast_i32(*world, int32_t(msg.size())), int64_t(msg.size()));  // same message everywhere
  world->barrier();
}

}  // namespace
