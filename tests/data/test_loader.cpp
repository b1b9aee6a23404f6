// tests/data/test_loader.cpp
// TrainLoader and read_eval_windows (data/loader.h). Shards hold consecutive ids with a distinct
// base per shard, so a window's first id says which shard and offset it came from. Checks: the
// shifted-label worked example, window counts, one epoch = every window once, order as a function
// of (seed, epoch), dp ranks partitioning the single-rank batch, state/restore, rollover across
// epochs, the InputErrors, and the eval windows' counts and contents.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/shard.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;

constexpr int kVocab = 70'000;  // ids up to 69999, stored as uint32

// A shard of n consecutive ids base, base+1, ... (one document).
void consecutive_shard(const std::string& path, uint32_t base, uint32_t n, int vocab = kVocab) {
  std::vector<uint32_t> ids(n);
  for (uint32_t i = 0; i < n; ++i) ids[i] = base + i;
  data::write_shard(path, ids, {0}, vocab, -1, "test:consecutive");
}

// Three shards of 1001, 500 and 257 ids at bases 0, 10000, 20000. With T = 8 they hold
// 1000/8 + 499/8 + 256/8 = 125 + 62 + 32 = 219 windows.
std::string three_shards(const std::string& dir) {
  consecutive_shard(dir + "/train_000000.h5", 0, 1001);
  consecutive_shard(dir + "/train_000001.h5", 10'000, 500);
  consecutive_shard(dir + "/train_000002.h5", 20'000, 257);
  return dir + "/train_*.h5";
}

data::LoaderOptions opts(const std::string& pattern, int seq_len, int micro, uint64_t seed = 1, int rank = 0,
                         int size = 1) {
  data::LoaderOptions o;
  o.pattern = pattern;
  o.seq_len = seq_len;
  o.micro_batch = micro;
  o.seed = seed;
  o.dp_rank = rank;
  o.dp_size = size;
  return o;
}

// First id of every row of one next(); also checks each row is T+1 consecutive ids.
std::vector<int32_t> next_firsts(data::TrainLoader& l, int seq_len) {
  std::vector<int32_t> batch;
  l.next(batch);
  const size_t row = size_t(seq_len) + 1;
  EXPECT_EQ(batch.size() % row, 0u);
  std::vector<int32_t> firsts;
  for (size_t r = 0; r < batch.size() / row; ++r) {
    for (size_t j = 0; j < row; ++j) EXPECT_EQ(batch[r * row + j], batch[r * row] + int32_t(j));
    firsts.push_back(batch[r * row]);
  }
  return firsts;
}

// One epoch's order with micro_batch 1, as the first ids of the windows.
std::vector<int32_t> epoch_order(const std::string& pattern, uint64_t seed, uint64_t epoch) {
  data::TrainLoader l(opts(pattern, 8, 1, seed));
  l.restore({epoch, 0});
  std::vector<int32_t> order;
  for (int64_t i = 0; i < l.num_windows(); ++i) order.push_back(next_firsts(l, 8)[0]);
  return order;
}

TEST(Loader, WorkedExampleShiftedLabels) {
  const std::string dir = scratch_dir();
  data::write_shard(dir + "/train_000000.h5", {0, 1, 2, 3, 4}, {0}, 256, -1, "byte:x");
  data::TrainLoader l(opts(dir + "/train_*.h5", 4, 1));
  EXPECT_EQ(l.num_windows(), 1);
  EXPECT_EQ(l.vocab_size(), 256);
  std::vector<int32_t> b;
  l.next(b);
  ASSERT_EQ(b, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(std::vector<int32_t>(b.begin(), b.end() - 1), (std::vector<int32_t>{0, 1, 2, 3}));  // inputs
  EXPECT_EQ(std::vector<int32_t>(b.begin() + 1, b.end()), (std::vector<int32_t>{1, 2, 3, 4}));  // targets
}

TEST(Loader, WindowCounts) {
  const std::string dir = scratch_dir();
  consecutive_shard(dir + "/s_0.h5", 0, 9);     // (9-1)/4 = 2
  consecutive_shard(dir + "/s_1.h5", 100, 4);   // 0: needs T+1 = 5
  consecutive_shard(dir + "/s_2.h5", 200, 8);   // 1
  consecutive_shard(dir + "/s_3.h5", 300, 5);   // 1
  data::TrainLoader l(opts(dir + "/s_*.h5", 4, 1));
  EXPECT_EQ(l.num_windows(), 4);
  EXPECT_EQ(l.shards().size(), 4u);
  // A window-less shard in the middle is skipped, not mapped onto: the epoch is exactly these.
  std::set<int32_t> firsts;
  for (int i = 0; i < 4; ++i) firsts.insert(next_firsts(l, 4)[0]);
  EXPECT_EQ(firsts, (std::set<int32_t>{0, 4, 200, 300}));
  EXPECT_EQ(data::TrainLoader(opts(three_shards(dir), 8, 1)).num_windows(), 219);
}

TEST(Loader, EpochVisitsEveryWindowOnce) {
  const std::string pattern = three_shards(scratch_dir());
  std::vector<int32_t> order = epoch_order(pattern, 5, 0);
  ASSERT_EQ(order.size(), 219u);
  std::multiset<int32_t> got(order.begin(), order.end());
  std::multiset<int32_t> expected;
  for (const auto& [base, n] : {std::pair{0, 1001}, std::pair{10'000, 500}, std::pair{20'000, 257}}) {
    for (int start = 0; start + 8 + 1 <= n; start += 8) expected.insert(base + start);
  }
  EXPECT_EQ(got, expected);
  std::vector<int32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(order, sorted);  // shuffled, not file order
}

TEST(Loader, OrderIsAFunctionOfSeedAndEpoch) {
  const std::string pattern = three_shards(scratch_dir());
  const std::vector<int32_t> a = epoch_order(pattern, 1337, 0);
  EXPECT_EQ(a, epoch_order(pattern, 1337, 0));
  EXPECT_NE(a, epoch_order(pattern, 1338, 0));
  EXPECT_NE(a, epoch_order(pattern, 1337, 1));
}

TEST(Loader, RanksPartitionTheGlobalBatch) {
  const std::string pattern = three_shards(scratch_dir());
  // Global batch 8 for every layout; 40 steps = 320 windows, so an epoch rollover (219) is inside.
  data::TrainLoader single(opts(pattern, 8, 8, 42));
  std::vector<std::vector<int32_t>> reference;
  for (int s = 0; s < 40; ++s) reference.push_back(next_firsts(single, 8));
  for (const int dp : {2, 4}) {
    std::vector<data::TrainLoader> ranks;
    for (int r = 0; r < dp; ++r) ranks.emplace_back(opts(pattern, 8, 8 / dp, 42, r, dp));
    for (int s = 0; s < 40; ++s) {
      std::vector<int32_t> joined;
      for (auto& l : ranks) {
        const std::vector<int32_t> part = next_firsts(l, 8);
        joined.insert(joined.end(), part.begin(), part.end());
      }
      ASSERT_EQ(joined, reference[size_t(s)]) << "dp " << dp << " step " << s;
    }
    for (auto& l : ranks) EXPECT_EQ(l.state().position, single.state().position);
  }
}

TEST(Loader, StateRestoreContinuesExactly) {
  const std::string pattern = three_shards(scratch_dir());
  data::TrainLoader a(opts(pattern, 8, 6, 9));
  for (int s = 0; s < 13; ++s) next_firsts(a, 8);
  const data::LoaderState saved = a.state();
  EXPECT_EQ(saved.epoch, 0u);
  EXPECT_EQ(saved.position, 78u);
  std::vector<std::vector<int32_t>> after;
  for (int s = 0; s < 40; ++s) after.push_back(next_firsts(a, 8));  // crosses into epoch 1

  data::TrainLoader b(opts(pattern, 8, 6, 9));
  b.restore(saved);
  EXPECT_EQ(b.state().position, saved.position);
  for (int s = 0; s < 40; ++s) ASSERT_EQ(next_firsts(b, 8), after[size_t(s)]) << "step " << s;
  EXPECT_EQ(b.state().epoch, a.state().epoch);
  EXPECT_EQ(b.state().position, a.state().position);

  const std::string msg = input_error([&] { b.restore({0, 219}); });
  EXPECT_NE(msg.find("position 219"), std::string::npos) << msg;
}

TEST(Loader, RollsOverIntoTheNextEpoch) {
  const std::string dir = scratch_dir();
  consecutive_shard(dir + "/t_0.h5", 0, 41);  // 5 windows of T = 8
  const std::string pattern = dir + "/t_*.h5";
  const std::vector<int32_t> e0 = epoch_order(pattern, 3, 0), e1 = epoch_order(pattern, 3, 1),
                             e2 = epoch_order(pattern, 3, 2);
  data::TrainLoader l(opts(pattern, 8, 3, 3));
  EXPECT_EQ(next_firsts(l, 8), (std::vector<int32_t>{e0[0], e0[1], e0[2]}));
  EXPECT_EQ(next_firsts(l, 8), (std::vector<int32_t>{e0[3], e0[4], e1[0]}));
  EXPECT_EQ(l.state().epoch, 1u);
  EXPECT_EQ(l.state().position, 1u);
  // A global batch larger than an epoch spans several: 12 rows = rest of e1 (4) + e2 (5) + 3 of e3.
  data::TrainLoader big(opts(pattern, 8, 12, 3));
  big.restore({1, 1});
  const std::vector<int32_t> rows = next_firsts(big, 8);
  EXPECT_EQ(std::vector<int32_t>(rows.begin(), rows.begin() + 4), std::vector<int32_t>(e1.begin() + 1, e1.end()));
  EXPECT_EQ(std::vector<int32_t>(rows.begin() + 4, rows.begin() + 9), e2);
  EXPECT_EQ(big.state().epoch, 3u);
  EXPECT_EQ(big.state().position, 3u);
}

TEST(LoaderErrors, ShardsMustAgreeOnVocab) {
  const std::string dir = scratch_dir();
  consecutive_shard(dir + "/v_0.h5", 0, 100, 256);
  consecutive_shard(dir + "/v_1.h5", 0, 100, 512);
  const std::string msg = input_error([&] { data::TrainLoader l(opts(dir + "/v_*.h5", 8, 1)); });
  EXPECT_NE(msg.find(dir + "/v_0.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir + "/v_1.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("vocab_size 512"), std::string::npos) << msg;
}

TEST(LoaderErrors, TooShortForOneWindow) {
  const std::string dir = scratch_dir();
  consecutive_shard(dir + "/x_0.h5", 0, 8);
  const std::string msg = input_error([&] { data::TrainLoader l(opts(dir + "/x_*.h5", 8, 1)); });
  EXPECT_NE(msg.find(dir + "/x_*.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fewer than seq_len+1 = 9 tokens"), std::string::npos) << msg;
}

TEST(LoaderErrors, BadIdsAndBadOptions) {
  const std::string dir = scratch_dir();
  RawShard r;
  r.vocab_size = 10;
  r.tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2};
  write_raw_shard(dir + "/bad.h5", r);
  const std::string msg = input_error([&] { data::TrainLoader l(opts(dir + "/bad.h5", 4, 1)); });
  EXPECT_NE(msg.find("token id 10 at index 9"), std::string::npos) << msg;
  consecutive_shard(dir + "/ok.h5", 0, 100);
  EXPECT_NE(input_error([&] { data::TrainLoader l(opts(dir + "/ok.h5", 4, 1, 1, 2, 2)); }).find("dp_rank 2"),
            std::string::npos);
  EXPECT_NE(input_error([&] { data::TrainLoader l(opts(dir + "/ok.h5", 0, 1)); }).find("seq_len 0"),
            std::string::npos);
}

TEST(EvalWindows, ConsecutiveNonOverlappingInFileOrder) {
  const std::string dir = scratch_dir();
  consecutive_shard(dir + "/val_000000.h5", 0, 11);       // two windows of 5, one id left over
  consecutive_shard(dir + "/val_000001.h5", 100, 5);      // exactly seq_len+1: one window
  consecutive_shard(dir + "/val_000002.h5", 200, 4);      // too short: none
  const std::string pattern = dir + "/val_*.h5";
  const auto all = data::read_eval_windows(pattern, 4, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(all[1], (std::vector<int32_t>{5, 6, 7, 8, 9}));
  EXPECT_EQ(all[2], (std::vector<int32_t>{100, 101, 102, 103, 104}));
  EXPECT_EQ(data::read_eval_windows(pattern, 4, -1), all);
  const auto two = data::read_eval_windows(pattern, 4, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1], all[1]);
  EXPECT_EQ(data::read_eval_windows(pattern, 2, 100).size(), 3u + 1u + 1u);  // 11/3, 5/3, 4/3

  const std::string msg = input_error([&] { data::read_eval_windows(dir + "/val_000002.h5", 4, 10); });
  EXPECT_NE(msg.find("no eval windows"), std::string::npos) << msg;
}

}  // namespace
