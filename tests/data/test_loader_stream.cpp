// tests/data/test_loader_stream.cpp
// The streaming side of TrainLoader: reads that cross HDF5 chunk boundaries, batches equal to an
// in-memory reference built from WindowOrder, identical global batches for 1, 2 and 4 ranks over
// several epochs, prefetch on/off equivalence, exact restore (also into another dp layout), state
// that counts only handed-out batches, a bounded open-file cache, clean shutdown, and a bad id deep
// in a shard surfacing from next() as an InputError naming the file.
// Shards hold ids (base + i) mod kMod in uint16 with chunks of 64Ki ids (write_shard's layout).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <string>
#include <vector>

#include "data/loader.h"
#include "data/shard.h"
#include "data/window_order.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;

constexpr uint32_t kMod = 60'000;
constexpr int kVocab = 60'000;

void mod_shard(const std::string& path, uint32_t base, uint32_t n) {
  std::vector<uint32_t> ids(n);
  for (uint32_t i = 0; i < n; ++i) ids[i] = (base + i) % kMod;
  data::write_shard(path, ids, {0}, kVocab, -1, "test:mod");
}

// Four shards of different sizes; the big ones span 3 and 2 chunks, the last has no window at T=64.
// With T = 64: 2343 + 1093 + 78 + 0 = 3514 windows.
std::string mixed_shards(const std::string& dir) {
  mod_shard(dir + "/train_000000.h5", 0, 150'000);
  mod_shard(dir + "/train_000001.h5", 17, 70'000);
  mod_shard(dir + "/train_000002.h5", 40'000, 5'000);
  mod_shard(dir + "/train_000003.h5", 3, 50);
  return dir + "/train_*.h5";
}

data::LoaderOptions opts(const std::string& pattern, int seq_len, int micro, int rank = 0, int size = 1,
                         int prefetch = 2) {
  data::LoaderOptions o;
  o.pattern = pattern;
  o.seq_len = seq_len;
  o.micro_batch = micro;
  o.seed = 77;
  o.dp_rank = rank;
  o.dp_size = size;
  o.prefetch = prefetch;
  return o;
}

std::vector<int32_t> next_batch(data::TrainLoader& l) {
  std::vector<int32_t> b;
  l.next(b);
  return b;
}

// One global batch: every rank's next(), rows concatenated in rank order.
std::vector<int32_t> next_global(std::vector<data::TrainLoader>& ranks) {
  std::vector<int32_t> joined;
  for (data::TrainLoader& l : ranks) {
    const std::vector<int32_t> part = next_batch(l);
    joined.insert(joined.end(), part.begin(), part.end());
  }
  return joined;
}

std::vector<data::TrainLoader> make_ranks(const std::string& pattern, int seq_len, int global, int dp,
                                          int prefetch = 2) {
  std::vector<data::TrainLoader> ranks;
  for (int r = 0; r < dp; ++r) ranks.emplace_back(opts(pattern, seq_len, global / dp, r, dp, prefetch));
  return ranks;
}

TEST(LoaderStream, MatchesInMemoryReference) {
  const std::string pattern = mixed_shards(scratch_dir());
  const int T = 64, micro = 16;
  data::TrainLoader loader(opts(pattern, T, micro));
  // Reference: whole shards in memory, windows picked by the same WindowOrder.
  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> lengths;
  for (const data::ShardInfo& s : loader.shards()) {
    ids.push_back(data::read_tokens(s, 0, s.num_tokens));
    lengths.push_back(s.num_tokens);
  }
  data::WindowOrder order(lengths, T, 77, pattern);
  ASSERT_EQ(order.num_windows(), 3514);
  ASSERT_EQ(loader.num_windows(), 3514);
  uint64_t k = 0;  // global entry index, counted from epoch 0
  for (int step = 0; step < 500; ++step) {  // 8000 windows: into epoch 2
    const std::vector<int32_t> got = next_batch(loader);
    ASSERT_EQ(got.size(), size_t(micro) * (T + 1));
    for (int r = 0; r < micro; ++r, ++k) {
      const data::WindowRef w = order.locate(order.window_at(k / 3514, k % 3514));
      const std::vector<int32_t>& src = ids[size_t(w.shard)];
      ASSERT_TRUE(std::equal(src.begin() + w.start, src.begin() + w.start + T + 1, got.begin() + r * (T + 1)))
          << "step " << step << " row " << r;
    }
  }
}

TEST(LoaderStream, RowsCrossChunkBoundaries) {
  const std::string dir = scratch_dir();
  mod_shard(dir + "/big.h5", 123, 200'000);  // chunks end at 65536, 131072, 196608
  const int T = 1000;                        // windows 65, 131 and 196 straddle them
  data::TrainLoader l(opts(dir + "/big.h5", T, 8));
  ASSERT_EQ(l.num_windows(), 199);
  for (int step = 0; step < 25; ++step) {  // every window once, and 1 more
    const std::vector<int32_t> b = next_batch(l);
    for (int r = 0; r < 8; ++r) {
      const int32_t first = b[size_t(r) * (T + 1)];
      EXPECT_EQ((uint32_t(first) + kMod - 123) % kMod % T, 0u) << "window starts at a multiple of T";
      for (int j = 0; j <= T; ++j) ASSERT_EQ(uint32_t(b[size_t(r) * (T + 1) + j]), (uint32_t(first) + j) % kMod);
    }
  }
}

TEST(LoaderStream, SameGlobalBatchesForOneTwoAndFourRanks) {
  const std::string pattern = mixed_shards(scratch_dir());
  const int T = 64, global = 48, steps = 250;  // 12000 windows: 3.4 epochs, rollovers mid-batch
  std::vector<data::TrainLoader> one = make_ranks(pattern, T, global, 1);
  std::vector<std::vector<int32_t>> reference;
  for (int s = 0; s < steps; ++s) reference.push_back(next_global(one));
  for (const int dp : {2, 4}) {
    std::vector<data::TrainLoader> ranks = make_ranks(pattern, T, global, dp);
    for (int s = 0; s < steps; ++s) ASSERT_EQ(next_global(ranks), reference[size_t(s)]) << "dp " << dp << " step " << s;
    for (const data::TrainLoader& l : ranks) {
      EXPECT_EQ(l.state().epoch, one[0].state().epoch);
      EXPECT_EQ(l.state().position, one[0].state().position);
    }
  }
  EXPECT_EQ(one[0].state().epoch, 3u);
}

TEST(LoaderStream, PrefetchDoesNotChangeTheBatches) {
  const std::string pattern = mixed_shards(scratch_dir());
  std::vector<std::vector<int32_t>> by_depth[4];
  const int depths[4] = {0, 1, 2, 8};
  for (int d = 0; d < 4; ++d) {
    data::TrainLoader l(opts(pattern, 64, 24, 0, 1, depths[d]));
    for (int s = 0; s < 200; ++s) by_depth[d].push_back(next_batch(l));
  }
  for (int d = 1; d < 4; ++d) EXPECT_EQ(by_depth[d], by_depth[0]) << "prefetch " << depths[d];
}

TEST(LoaderStream, StateCountsHandedOutBatchesOnly) {
  const std::string pattern = mixed_shards(scratch_dir());
  data::TrainLoader l(opts(pattern, 64, 10, 1, 2, /*prefetch=*/8));
  EXPECT_EQ(l.state().position, 0u);
  next_batch(l);
  // The worker has likely produced several batches by now; only one was handed out (20 windows
  // of the global sequence: 2 ranks x 10).
  EXPECT_EQ(l.state().position, 20u);
  next_batch(l);
  EXPECT_EQ(l.state().position, 40u);
}

TEST(LoaderStream, RestoreReproducesTheNextBatchesInAnyLayout) {
  const std::string pattern = mixed_shards(scratch_dir());
  const int T = 64, global = 32;
  std::vector<data::TrainLoader> a = make_ranks(pattern, T, global, 1, /*prefetch=*/4);
  for (int s = 0; s < 97; ++s) next_global(a);  // mid-epoch, with prefetched batches queued
  const data::LoaderState saved = a[0].state();
  EXPECT_EQ(saved.position, 97u * 32u);
  std::vector<std::vector<int32_t>> after;
  for (int s = 0; s < 150; ++s) after.push_back(next_global(a));  // crosses into epoch 1

  for (const int dp : {1, 2, 4}) {
    for (const int prefetch : {0, 3}) {
      std::vector<data::TrainLoader> b = make_ranks(pattern, T, global, dp, prefetch);
      next_global(b);  // restoring a loader that already ran (and prefetched) must discard that
      for (data::TrainLoader& l : b) l.restore(saved);
      for (int s = 0; s < 150; ++s) {
        ASSERT_EQ(next_global(b), after[size_t(s)]) << "dp " << dp << " prefetch " << prefetch << " step " << s;
      }
      EXPECT_EQ(b[0].state().epoch, a[0].state().epoch);
      EXPECT_EQ(b[0].state().position, a[0].state().position);
    }
  }
}

TEST(LoaderStream, MoreShardsThanOpenFiles) {
  const std::string dir = scratch_dir();
  for (int s = 0; s < 10; ++s) mod_shard(dir + "/s_" + std::to_string(s) + ".h5", uint32_t(s) * 1000, 3000 + s * 97);
  data::LoaderOptions few = opts(dir + "/s_*.h5", 32, 16), many = few;
  few.max_open_files = 3;
  data::TrainLoader a(few), b(many);
  for (int s = 0; s < 150; ++s) ASSERT_EQ(next_batch(a), next_batch(b)) << "step " << s;
}

TEST(LoaderStream, DestroysCleanlyWhilePrefetching) {
  const std::string pattern = mixed_shards(scratch_dir());
  for (int i = 0; i < 20; ++i) {
    data::TrainLoader never_used(opts(pattern, 64, 64, 0, 1, 4));
    data::TrainLoader l(opts(pattern, 64, 64, 0, 1, 4));
    next_batch(l);  // the worker is now filling its queue; the destructor must stop and join it
  }
  data::TrainLoader moved_from(opts(pattern, 64, 8, 0, 1, 4));
  next_batch(moved_from);
  data::TrainLoader moved_to(std::move(moved_from));
  EXPECT_EQ(next_batch(moved_to).size(), 8u * 65u);
  EXPECT_EQ(moved_to.state().position, 16u);
}

// A uint16 shard whose id at `bad_index` is 5000 while vocab_size says 1000. write_shard refuses
// such ids, so it is written with vocab 6000 and the attribute is lowered afterwards.
void shard_with_bad_id(const std::string& path, uint32_t n, uint32_t bad_index) {
  std::vector<uint32_t> ids(n);
  for (uint32_t i = 0; i < n; ++i) ids[i] = i % 1000;
  ids[bad_index] = 5000;
  data::write_shard(path, ids, {0}, 6000, -1, "test:bad");
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t a = H5Aopen(f, "vocab_size", H5P_DEFAULT);
  const int vocab = 1000;
  H5Awrite(a, H5T_NATIVE_INT, &vocab);
  H5Aclose(a);
  H5Fclose(f);
}

TEST(LoaderStream, BadIdInChunkThreeThrowsFromNextNamingTheFile) {
  const std::string dir = scratch_dir();
  const uint32_t bad_index = 3 * 65536 + 1234;  // inside chunk 3 (chunk 0 is probed at construction)
  shard_with_bad_id(dir + "/train_000000.h5", 300'000, bad_index);
  const std::string path = dir + "/train_000000.h5";
  std::vector<int> good_batches;
  for (const int prefetch : {0, 3}) {
    data::TrainLoader l(opts(path, 64, 16, 0, 1, prefetch));  // construction reads chunk 0 only: fine
    int good = 0;
    data::LoaderState before;
    const std::string msg = input_error([&] {
      for (;;) {
        before = l.state();
        next_batch(l);
        ++good;
      }
    });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("token id 5000 at index " + std::to_string(bad_index)), std::string::npos) << msg;
    EXPECT_NE(msg.find("vocab_size 1000"), std::string::npos) << msg;
    // The failed batch was not handed out: state points at it, and asking again fails again.
    EXPECT_EQ(l.state().position, before.position) << "prefetch " << prefetch;
    EXPECT_GT(good, 0);
    good_batches.push_back(good);
    EXPECT_NE(input_error([&] { next_batch(l); }).find(path), std::string::npos);
  }
  EXPECT_EQ(good_batches[0], good_batches[1]) << "prefetch delivers every batch before the bad one";
}

}  // namespace
