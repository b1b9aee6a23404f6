// tests/parallel/test_layout.cpp
// make_layout: rank arithmetic (rank = dp_rank * tp + tp_rank) and the messages for layouts that
// do not fit, which must name both numbers (the user fixes one of them). Pure: no communication,
// so every rank of an mpirun runs the same checks.
#include <gtest/gtest.h>

#include <string>

#include "configs/config.h"
#include "parallel/layout.h"
#include "tests/common/test_support.h"

namespace {

using kiln_test::input_error_of;

configs::Config with_tp(int tp) {
  configs::Config c;  // GPT-2 124M defaults: n_head 12, d_ff 3072, vocab_size 50304
  c.parallel.tp = tp;
  return c;
}

TEST(Layout, Dp2Tp2PutsTensorParallelRanksNextToEachOther) {
  const configs::Config c = with_tp(2);
  const int want_dp[] = {0, 0, 1, 1}, want_tp[] = {0, 1, 0, 1};
  for (int r = 0; r < 4; ++r) {
    const parallel::Layout l = parallel::make_layout(4, r, c);
    EXPECT_EQ(l.world, 4);
    EXPECT_EQ(l.dp, 2);
    EXPECT_EQ(l.tp, 2);
    EXPECT_EQ(l.rank, r);
    EXPECT_EQ(l.dp_rank, want_dp[r]) << "rank " << r;
    EXPECT_EQ(l.tp_rank, want_tp[r]) << "rank " << r;
    EXPECT_EQ(l.dp_rank * l.tp + l.tp_rank, r);
  }
  EXPECT_EQ(parallel::make_layout(4, 0, c).str(), "dp=2 tp=2 (world 4)");
}

TEST(Layout, RankArithmeticForLargerWorlds) {
  // 16 ranks, tp 4: rank 13 = dp 3 * 4 + tp 1.
  const parallel::Layout l = parallel::make_layout(16, 13, with_tp(4));
  EXPECT_EQ(l.dp, 4);
  EXPECT_EQ(l.dp_rank, 3);
  EXPECT_EQ(l.tp_rank, 1);
  // tp 1: pure data parallelism, dp_rank = rank.
  const parallel::Layout d = parallel::make_layout(8, 5, with_tp(1));
  EXPECT_EQ(d.dp, 8);
  EXPECT_EQ(d.dp_rank, 5);
  EXPECT_EQ(d.tp_rank, 0);
  // tp = world: pure tensor parallelism, one replica.
  const parallel::Layout t = parallel::make_layout(3, 2, with_tp(3));
  EXPECT_EQ(t.dp, 1);
  EXPECT_EQ(t.dp_rank, 0);
  EXPECT_EQ(t.tp_rank, 2);
  EXPECT_EQ(parallel::make_layout(1, 0, with_tp(1)).str(), "dp=1 tp=1 (world 1)");
}

TEST(Layout, WorldNotDivisibleByTpNamesBoth) {
  const std::string msg = input_error_of([] { parallel::make_layout(4, 0, with_tp(3)); });
  EXPECT_HAS(msg, "world size 4 is not divisible by parallel.tp = 3");
}

TEST(Layout, TpMustDivideHeadsFfAndVocab) {
  // tp 5 divides none of n_head 12, d_ff 3072, vocab 50304: all three are reported at once.
  const std::string msg = input_error_of([] { parallel::make_layout(10, 0, with_tp(5)); });
  EXPECT_HAS(msg, "parallel.tp = 5 does not divide model.n_head = 12");
  EXPECT_HAS(msg, "parallel.tp = 5 does not divide model.d_ff = 3072");
  EXPECT_HAS(msg, "parallel.tp = 5 does not divide model.vocab_size = 50304");
  EXPECT_EQ(msg.find("world size"), std::string::npos) << msg;  // 10 % 5 == 0: not a problem
}

TEST(Layout, EachDivisibilityRuleOnItsOwn) {
  configs::Config c = with_tp(3);
  c.model.n_head = 16;  // 3 divides d_ff 3072 and vocab 50304, not 16
  std::string msg = input_error_of([&] { parallel::make_layout(3, 0, c); });
  EXPECT_HAS(msg, "parallel.tp = 3 does not divide model.n_head = 16");
  EXPECT_EQ(msg.find("d_ff"), std::string::npos) << msg;

  c = with_tp(2);
  c.model.d_ff = 3073;
  msg = input_error_of([&] { parallel::make_layout(2, 0, c); });
  EXPECT_HAS(msg, "parallel.tp = 2 does not divide model.d_ff = 3073");

  c = with_tp(2);
  c.model.vocab_size = 50257;  // the unpadded GPT-2 vocabulary
  msg = input_error_of([&] { parallel::make_layout(2, 0, c); });
  EXPECT_HAS(msg, "parallel.tp = 2 does not divide model.vocab_size = 50257");
}

TEST(Layout, TpBelowOneAndBadZero) {
  EXPECT_HAS(input_error_of([] { parallel::make_layout(2, 0, with_tp(0)); }), "parallel.tp = 0 must be at least 1");
  configs::Config c = with_tp(1);
  c.parallel.zero = 2;
  EXPECT_HAS(input_error_of([&] { parallel::make_layout(2, 0, c); }), "parallel.zero = 2 must be 0 or 1");
}

TEST(Layout, ZeroIsAllowedWithAnyDp) {
  configs::Config c = with_tp(1);
  c.parallel.zero = 1;
  EXPECT_EQ(parallel::make_layout(1, 0, c).dp, 1);  // one shard: the same as no sharding
  EXPECT_EQ(parallel::make_layout(4, 3, c).dp, 4);
}

}  // namespace

namespace {

// Llama's grouped-query attention splits the key/value heads over tp as well: 32 query heads on 8
// key/value heads run on tp 8 but not on tp 16 (refused before anything is allocated, naming both).
TEST(Layout, LlamaKeyValueHeadsMustSplitOverTp) {
  configs::Config c;
  c.model.arch = "llama";
  c.model.n_head = 32;
  c.model.d_model = 2048;
  c.model.n_kv_head = 8;
  c.model.d_ff = 8192;
  c.parallel.tp = 8;
  EXPECT_EQ(parallel::make_layout(8, 3, c).tp_rank, 3);
  c.parallel.tp = 16;
  const std::string msg = input_error_of([&] { parallel::make_layout(16, 0, c); });
  EXPECT_HAS(msg, "parallel.tp = 16 does not divide model.n_kv_head = 8");
  EXPECT_EQ(msg.find("model.n_head"), std::string::npos) << "32 heads do split 16 ways: " << msg;
  // A gpt2 config has no key/value heads of its own to check.
  configs::Config g;
  g.model.n_head = 16;
  g.model.d_model = 1024;
  g.parallel.tp = 16;
  g.model.d_ff = 4096;
  EXPECT_NO_THROW(parallel::make_layout(16, 0, g));
}

}  // namespace
