// tests/checkpoint/test_save_load.cpp
// One process playing every rank of a layout (SelfComm world): save, commit, load back under
// other layouts (tp = 1, 2, 4, uneven ranges), dtype conversion on load, the Saver's contract
// (copy at begin, commit(false), destructor, same step twice), retention and clean_stale.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "checkpoint/checkpoint.h"
#include "checkpoint/internal.h"
#include "ckpt_test.h"
#include "parallel/comm_self.h"
#include "tests/common/test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace ckpt_test;

// Saves, in one process, what all tp*dp ranks of a layout would save.
void save_layout(const std::string& dir, int64_t step, int tp, int dp, int keep_last = 3) {
  parallel::SelfComm self;
  checkpoint::Saver saver(dir, keep_last, self);
  Holder h;
  std::vector<checkpoint::Piece> all;
  for (int w = 0; w < tp * dp; ++w) {
    std::vector<checkpoint::Piece> mine = rank_pieces(h, w, tp, dp, step);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  saver.begin(state_at(step, dp, tp), all);
  EXPECT_TRUE(saver.pending());
  EXPECT_EQ(saver.commit(true), step);
  EXPECT_FALSE(saver.pending());
}

void load_and_check(const checkpoint::Manifest& m, int tp, int parts, bool as_saved, kernels::DType as, int64_t step) {
  for (int r = 0; r < tp; ++r) {
    Holder h;
    std::vector<checkpoint::Piece> reqs = requests(h, tp, r, parts, as_saved, as);
    checkpoint::load(m, reqs);
    expect_loaded(reqs, step, "tp " + std::to_string(tp) + " rank " + std::to_string(r));
  }
}

TEST(SaveLoad, Tp2Dp2ReshardsToAnyLayout) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_layout(dir, 20, /*tp=*/2, /*dp=*/2);
  EXPECT_TRUE(fs::exists(dir + "/step_00000020/manifest.yaml"));
  EXPECT_FALSE(fs::exists(dir + "/step_00000020.tmp"));
  EXPECT_EQ(checkpoint::detail::read_latest(dir), "step_00000020");
  const checkpoint::Manifest m = checkpoint::read_manifest(dir + "/step_00000020");
  checkpoint::verify(m);
  EXPECT_EQ(m.state.tokens, 20 * 4096);
  EXPECT_EQ(m.tensors.size(), specs().size() * groups().size());
  load_and_check(m, 1, 1, true, kernels::DType::F32, 20);  // whole tensors
  load_and_check(m, 2, 1, true, kernels::DType::F32, 20);  // same layout
  load_and_check(m, 2, 3, true, kernels::DType::F32, 20);  // same tp, other local ranges
  load_and_check(m, 4, 2, true, kernels::DType::F32, 20);  // more tp ranks than saved
}

TEST(SaveLoad, Tp4AndTp1SavesLoadElsewhere) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_layout(dir, 1, 4, 1);
  save_layout(dir, 2, 1, 3);
  const checkpoint::Manifest m4 = checkpoint::read_manifest(dir + "/step_00000001");
  load_and_check(m4, 1, 1, true, kernels::DType::F32, 1);
  load_and_check(m4, 2, 2, true, kernels::DType::F32, 1);
  const checkpoint::Manifest m1 = checkpoint::read_manifest(dir + "/step_00000002");
  load_and_check(m1, 4, 3, true, kernels::DType::F32, 2);
}

TEST(SaveLoad, ConvertsDtypeOnLoad) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_layout(dir, 5, 2, 2);
  const checkpoint::Manifest m = checkpoint::read_manifest(dir + "/step_00000005");
  // fp32 master -> bf16 / fp16 rounds to nearest even; bf16 params -> fp32 widens exactly.
  for (kernels::DType as : {kernels::DType::F32, kernels::DType::BF16, kernels::DType::F16})
    load_and_check(m, 2, 2, false, as, 5);
  Holder h;
  checkpoint::Piece p = make_piece(h, specs()[0], "master/wte", kernels::DType::I32, 1, 0, 0, 96, 0, false);
  std::vector<checkpoint::Piece> reqs{p};
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::load(m, reqs); }), "cannot load it as int32");
}

TEST(SaveLoad, ModelMismatchNamesTensorAndShapes) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_layout(dir, 5, 1, 1);
  const checkpoint::Manifest m = checkpoint::read_manifest(dir + "/step_00000005");
  Holder h;
  Spec wide{"wte", kernels::Shape{16, 8}, parallel::Split::kRows};
  std::vector<checkpoint::Piece> reqs{make_piece(h, wide, "master/wte", kernels::DType::F32, 1, 0, 0, 128, 0, false)};
  const std::string msg = kiln_test::input_error_of([&] { checkpoint::load(m, reqs); });
  EXPECT_HAS(msg, "master/wte: checkpoint has (16, 6), the model (16, 8)");
  reqs = {make_piece(h, wide, "master/lm_head", kernels::DType::F32, 1, 0, 0, 128, 0, false)};
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::load(m, reqs); }), "master/lm_head: not in checkpoint");
  Spec cols{"wte", kernels::Shape{16, 6}, parallel::Split::kCols};
  reqs = {make_piece(h, cols, "master/wte", kernels::DType::F32, 1, 0, 0, 96, 0, false)};
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::load(m, reqs); }), "splits it as rows, the model as cols");
}

TEST(Saver, BeginCopiesSoTrainingMayContinue) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  parallel::SelfComm self;
  checkpoint::Saver saver(dir, 3, self);
  Holder h;
  std::vector<checkpoint::Piece> pieces = rank_pieces(h, 0, 1, 1, 3);
  saver.begin(state_at(3, 1, 1), pieces);
  for (const checkpoint::Piece& p : pieces) std::memset(p.data, 0x7f, size_t(p.count) * kernels::dtype_size(p.dtype));
  // commit(false) until every rank (here: one) is done; it never blocks on the writer.
  int64_t got = -1;
  for (int i = 0; i < 10000 && got < 0; ++i) {
    got = saver.commit(false);
    if (got < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(got, 3);
  EXPECT_EQ(saver.commit(false), -1);  // nothing pending any more
  EXPECT_GT(saver.stats().bytes, 0u);
  load_and_check(checkpoint::read_manifest(dir + "/step_00000003"), 1, 1, true, kernels::DType::F32, 3);
}

TEST(Saver, DestructorWaitsButDoesNotCommit) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  parallel::SelfComm self;
  Holder h;
  {
    checkpoint::Saver saver(dir, 3, self);
    saver.begin(state_at(9, 1, 1), rank_pieces(h, 0, 1, 1, 9));
  }
  EXPECT_TRUE(fs::exists(dir + "/step_00000009.tmp/rank_00000.h5"));
  EXPECT_FALSE(fs::exists(dir + "/step_00000009"));
  EXPECT_FALSE(fs::exists(dir + "/latest"));
  checkpoint::clean_stale(dir);
  EXPECT_FALSE(fs::exists(dir + "/step_00000009.tmp"));
  parallel::SelfComm w;
  EXPECT_FALSE(checkpoint::find_resume(dir, w).has_value());
}

TEST(Saver, BeginCommitsThePreviousSaveAndSameStepReplaces) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  parallel::SelfComm self;
  checkpoint::Saver saver(dir, 5, self);
  Holder h;
  saver.begin(state_at(1, 1, 1), rank_pieces(h, 0, 1, 1, 1));
  saver.begin(state_at(2, 1, 1), rank_pieces(h, 0, 1, 1, 2));  // commits step 1 first
  EXPECT_TRUE(fs::exists(dir + "/step_00000001/manifest.yaml"));
  EXPECT_EQ(saver.commit(true), 2);
  // Step 2 again with other data (a resume from step 1 reached it once more): the new one wins.
  checkpoint::RunState st = state_at(2, 1, 1);
  st.tokens = 777;
  saver.begin(st, rank_pieces(h, 0, 1, 1, 1));
  EXPECT_EQ(saver.commit(true), 2);
  const checkpoint::Manifest m = checkpoint::read_manifest(dir + "/step_00000002");
  EXPECT_EQ(m.state.tokens, 777);
  load_and_check(m, 1, 1, true, kernels::DType::F32, 1);
  EXPECT_FALSE(fs::exists(dir + "/step_00000002.replaced.tmp"));
}

TEST(Saver, RefusesToCommitPiecesThatDoNotCoverATensor) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  parallel::SelfComm self;
  checkpoint::Saver saver(dir, 3, self);
  Holder h;
  std::vector<checkpoint::Piece> pieces = rank_pieces(h, 0, 2, 1, 1);  // tp rank 1's halves missing
  saver.begin(state_at(1, 1, 2), pieces);
  try {
    saver.commit(true);
    ADD_FAILURE() << "commit of an incomplete checkpoint succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_HAS(std::string(e.what()), "do not cover");
  }
  EXPECT_FALSE(saver.pending());
  EXPECT_FALSE(fs::exists(dir + "/step_00000001"));
}

TEST(Retention, KeepLastDeletesOnlyOlderCompleteOnes) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  fs::create_directories(dir + "/step_00000001.corrupt");
  fs::create_directories(dir + "/step_00000099.tmp");
  for (int64_t s = 1; s <= 5; ++s) save_layout(dir, s * 10, 1, 2, /*keep_last=*/2);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"latest", "step_00000001.corrupt", "step_00000040", "step_00000050",
                                             "step_00000099.tmp"}));
  EXPECT_EQ(checkpoint::detail::read_latest(dir), "step_00000050");
  save_layout(dir, 60, 1, 1, /*keep_last=*/0);  // 0 keeps everything
  EXPECT_TRUE(fs::exists(dir + "/step_00000040"));
  checkpoint::clean_stale(dir);
  EXPECT_FALSE(fs::exists(dir + "/step_00000099.tmp"));
  EXPECT_TRUE(fs::exists(dir + "/step_00000001.corrupt"));  // not clean_stale's business
  EXPECT_TRUE(fs::exists(dir + "/step_00000060"));
}

}  // namespace
