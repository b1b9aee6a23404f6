// tests/data/test_prepare.cpp
// `kiln prepare` (data/prepare.h) on small temporary corpora: every byte of every file comes back
// as one document in exactly one split, the split is a function of the seed, both splits are
// non-empty when they should be, shards are cut at shard_tokens, and bad inputs are refused
// (naming the input) before anything is written.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/prepare.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;

// n files with distinct contents (so a document identifies its file), some nested in folders and
// containing 0x00 / 0xFF. Returns path -> contents.
std::map<std::string, std::string> make_corpus(const std::string& dir, int n) {
  std::map<std::string, std::string> files;
  for (int i = 0; i < n; ++i) {
    std::string text = "document " + std::to_string(i) + ": ";
    for (int j = 0; j < 10 + 7 * i; ++j) text.push_back(char('a' + (i + j) % 26));
    if (i % 4 == 0) text += std::string("\x00\xff\n", 3);
    const std::string path = dir + "/sub" + std::to_string(i % 3) + "/doc_" + std::to_string(i) + ".txt";
    write_bytes(path, text);
    files[path] = text;
  }
  return files;
}

// All ids of the shards matching a pattern, in order, plus the global start of each document.
struct Stream {
  std::string bytes;
  std::vector<uint64_t> doc_starts;
};
Stream read_stream(const std::string& pattern) {
  Stream s;
  for (const std::string& f : data::expand_glob(pattern)) {
    const data::ShardInfo info = data::read_shard_info(f);
    const hid_t h = H5Fopen(f.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t ds = H5Dopen2(h, "doc_offsets", H5P_DEFAULT);
    std::vector<uint64_t> off(size_t(info.num_docs));
    if (!off.empty()) H5Dread(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, off.data());
    H5Dclose(ds);
    H5Fclose(h);
    for (uint64_t o : off) s.doc_starts.push_back(s.bytes.size() + o);
    for (int32_t id : data::read_tokens(info, 0, info.num_tokens)) s.bytes.push_back(static_cast<char>(id));
  }
  return s;
}

// Cuts a stream into documents and names the file each one came from ("?" when none matches).
std::vector<std::string> documents_of(const Stream& s, const std::map<std::string, std::string>& corpus) {
  std::vector<std::string> names;
  for (size_t d = 0; d < s.doc_starts.size(); ++d) {
    const uint64_t end = d + 1 < s.doc_starts.size() ? s.doc_starts[d + 1] : s.bytes.size();
    const std::string text = s.bytes.substr(s.doc_starts[d], end - s.doc_starts[d]);
    std::string name = "?";
    for (const auto& [path, contents] : corpus) {
      if (contents == text) name = path;
    }
    names.push_back(name);
  }
  return names;
}

struct Split {
  std::vector<std::string> train, val;
};
Split split_of(const std::string& out, const std::map<std::string, std::string>& corpus) {
  Split s{documents_of(read_stream(out + "/train_*.h5"), corpus), {}};
  if (fs::exists(out + "/val_000000.h5")) s.val = documents_of(read_stream(out + "/val_*.h5"), corpus);
  return s;
}

data::PrepareOptions options(const std::string& in, const std::string& out) {
  data::PrepareOptions o;
  o.inputs = {in};
  o.out_dir = out;
  return o;
}

TEST(Prepare, EveryDocumentLandsOnceByteForByte) {
  const std::string dir = scratch_dir();
  const auto corpus = make_corpus(dir + "/in", 20);
  size_t total = 0;
  for (const auto& [p, c] : corpus) total += c.size();
  data::PrepareOptions o = options(dir + "/in", dir + "/out");
  o.val_fraction = 0.25;
  std::vector<std::string> lines;
  const data::PrepareSummary s = data::prepare(o, [&](const std::string& l) { lines.push_back(l); });

  EXPECT_EQ(s.train_docs + s.val_docs, 20);
  EXPECT_GT(s.val_docs, 0);
  EXPECT_GT(s.train_docs, 0);
  EXPECT_EQ(size_t(s.train_tokens + s.val_tokens), total);  // byte tokenizer: one token per byte
  EXPECT_EQ(s.train_shards, 1);
  EXPECT_EQ(s.val_shards, 1);
  EXPECT_EQ(lines.size(), 2u);

  const Split split = split_of(dir + "/out", corpus);
  EXPECT_EQ(int64_t(split.train.size()), s.train_docs);
  EXPECT_EQ(int64_t(split.val.size()), s.val_docs);
  // Each split keeps path order, and together they are the corpus exactly once.
  EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
  EXPECT_TRUE(std::is_sorted(split.val.begin(), split.val.end()));
  std::vector<std::string> all = split.train;
  all.insert(all.end(), split.val.begin(), split.val.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> expected;
  for (const auto& [p, c] : corpus) expected.push_back(p);
  EXPECT_EQ(all, expected);

  // The tokenizer folder loads, and its fingerprint is what every shard records.
  const auto tok = data::load_tokenizer(dir + "/out/tokenizer");
  EXPECT_EQ(data::read_shard_info(dir + "/out/train_000000.h5").tokenizer, tok->fingerprint());
  EXPECT_FALSE(fs::exists(dir + "/out/tokenizer.tmp"));
}

TEST(Prepare, SplitDependsOnSeedOnly) {
  const std::string dir = scratch_dir();
  const auto corpus = make_corpus(dir + "/in", 24);
  data::PrepareOptions o = options(dir + "/in", dir + "/a");
  o.val_fraction = 0.5;
  o.seed = 11;
  data::prepare(o);
  o.out_dir = dir + "/b";
  data::prepare(o);
  o.out_dir = dir + "/c";
  o.seed = 12;
  data::prepare(o);
  const Split a = split_of(dir + "/a", corpus), b = split_of(dir + "/b", corpus), c = split_of(dir + "/c", corpus);
  EXPECT_EQ(a.val, b.val);
  EXPECT_EQ(a.train, b.train);
  EXPECT_FALSE(a.val.empty());
  EXPECT_NE(a.val, c.val);  // 24 coin flips agreeing by chance: p = 2^-24
}

TEST(Prepare, ZeroValFractionWritesNoValShard) {
  const std::string dir = scratch_dir();
  make_corpus(dir + "/in", 5);
  data::PrepareOptions o = options(dir + "/in", dir + "/out");
  o.val_fraction = 0;
  const data::PrepareSummary s = data::prepare(o);
  EXPECT_EQ(s.train_docs, 5);
  EXPECT_EQ(s.val_docs, 0);
  EXPECT_EQ(s.val_shards, 0);
  EXPECT_TRUE(fs::exists(dir + "/out/train_000000.h5"));
  EXPECT_FALSE(fs::exists(dir + "/out/val_000000.h5"));
}

TEST(Prepare, BothSplitsNonEmptyWithTwoDocuments) {
  const std::string dir = scratch_dir();
  write_bytes(dir + "/in/a.txt", "first");
  write_bytes(dir + "/in/b.txt", "second");
  for (const double frac : {0.001, 0.999}) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      data::PrepareOptions o = options(dir + "/in", dir + "/out");
      o.val_fraction = frac;
      o.seed = seed;
      const data::PrepareSummary s = data::prepare(o);
      EXPECT_EQ(s.train_docs, 1) << frac << " seed " << seed;
      EXPECT_EQ(s.val_docs, 1) << frac << " seed " << seed;
    }
  }
  // One document always trains: a corpus without train data would be useless.
  data::PrepareOptions o = options(dir + "/in/a.txt", dir + "/one");
  o.val_fraction = 0.999;
  EXPECT_EQ(data::prepare(o).train_docs, 1);
}

TEST(Prepare, ShardsCutAtShardTokens) {
  const std::string dir = scratch_dir();
  write_bytes(dir + "/in/1.txt", "aaaaaaa");     // 7
  write_bytes(dir + "/in/2.txt", "bbbbbbbbbb");  // 10
  write_bytes(dir + "/in/3.txt", "cccccccc");    // 8
  data::PrepareOptions o = options(dir + "/in", dir + "/out");
  o.val_fraction = 0;
  o.shard_tokens = 10;
  const data::PrepareSummary s = data::prepare(o);
  EXPECT_EQ(s.train_shards, 3);
  EXPECT_EQ(s.train_tokens, 25);
  const std::vector<std::string> files = data::expand_glob(dir + "/out/train_*.h5");
  ASSERT_EQ(files.size(), 3u);
  const int64_t sizes[3] = {10, 10, 5}, docs[3] = {2, 1, 0};  // documents *starting* in each shard
  for (int i = 0; i < 3; ++i) {
    const data::ShardInfo info = data::read_shard_info(files[size_t(i)]);
    EXPECT_EQ(info.num_tokens, sizes[i]) << files[size_t(i)];
    EXPECT_EQ(info.num_docs, docs[i]) << files[size_t(i)];
  }
  const Stream st = read_stream(dir + "/out/train_*.h5");
  EXPECT_EQ(st.bytes, "aaaaaaabbbbbbbbbbcccccccc");
  EXPECT_EQ(st.doc_starts, (std::vector<uint64_t>{0, 7, 17}));

  // A rerun with bigger shards leaves no stale train_000001/2 behind for a glob to pick up.
  o.shard_tokens = 100;
  EXPECT_EQ(data::prepare(o).train_shards, 1);
  EXPECT_EQ(data::expand_glob(dir + "/out/train_*.h5").size(), 1u);
}

TEST(Prepare, RerunOverParentIgnoresItsOwnOutput) {
  const std::string dir = scratch_dir();
  make_corpus(dir + "/in", 6);
  data::PrepareOptions o = options(dir + "/in", dir + "/in/out");
  o.val_fraction = 0;
  const data::PrepareSummary first = data::prepare(o);
  const data::PrepareSummary second = data::prepare(o);
  EXPECT_EQ(first.train_docs, 6);
  EXPECT_EQ(second.train_docs, 6);
  EXPECT_EQ(second.train_tokens, first.train_tokens);
}

TEST(PrepareErrors, BadInputsNameTheInputAndWriteNothing) {
  const std::string dir = scratch_dir(), out = dir + "/out";
  write_bytes(dir + "/in/ok.txt", "text");
  write_bytes(dir + "/in/empty.txt", "");
  fs::create_directories(dir + "/nothing/deeper");
  struct Case {
    data::PrepareOptions opt;
    std::string expect;
  };
  std::vector<Case> cases;
  cases.push_back({options(dir + "/in", out), dir + "/in/empty.txt is empty (0 bytes)"});
  cases.push_back({options(dir + "/missing.txt", out), dir + "/missing.txt does not exist"});
  cases.push_back({options(dir + "/nothing", out), dir + "/nothing contains no files"});
  data::PrepareOptions o = options(dir + "/in/ok.txt", out);
  o.val_fraction = 1.0;
  cases.push_back({o, "--val-fraction 1 is outside [0, 1)"});
  o.val_fraction = -0.1;
  cases.push_back({o, "--val-fraction -0.1 is outside [0, 1)"});
  o.val_fraction = 0.1;
  o.shard_tokens = 0;
  cases.push_back({o, "--shard-tokens 0 must be > 0"});
  o.shard_tokens = 10;
  o.tokenizer = "nope";
  cases.push_back({o, "unknown tokenizer 'nope'"});
  for (const Case& c : cases) {
    const std::string msg = input_error([&] { data::prepare(c.opt); });
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "got: " << msg << "\nexpected to contain: " << c.expect;
    EXPECT_FALSE(fs::exists(out)) << "output written despite: " << msg;
  }
}

}  // namespace
