// tests/data/test_inspect.cpp
// data::inspect_shards / verify_shard (what `kiln inspect` reports), and the same broken shards
// rejected by both the inspector and the training loader with the file named: truncated, not HDF5,
// a damaged chunk index, no /tokens, a float /tokens. Also what only --verify sees: an id past the
// last training window, doc_offsets out of order or outside /tokens, a missing or mismatched
// tokenizer folder, and shards that disagree.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/inspect.h"
#include "data/loader.h"
#include "data/prepare.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;

void plain_shard(const std::string& path, uint32_t n, int vocab = 256, std::vector<uint64_t> offsets = {0},
                 const std::string& tokenizer = "test:plain", int eot = -1) {
  std::vector<uint32_t> ids(n);
  for (uint32_t i = 0; i < n; ++i) ids[i] = i % uint32_t(vocab);
  data::write_shard(path, ids, offsets, vocab, eot, tokenizer);
}

// Rewrites part of an existing shard in place with the plain HDF5 API (for states write_shard
// refuses to produce).
void patch(const std::string& path, const std::function<void(hid_t)>& edit) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0) << path;
  edit(f);
  H5Fclose(f);
}

void set_offsets(hid_t f, const std::vector<uint64_t>& v) {
  const hid_t d = H5Dopen2(f, "doc_offsets", H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(d);
}

std::string prepared_folder(const std::string& dir) {
  std::string doc;
  for (int i = 0; i < 300; ++i) doc += "it was the best of times. ";
  for (int d = 0; d < 6; ++d) write_bytes(dir + "/text/d" + std::to_string(d) + ".txt", doc + std::to_string(d));
  data::PrepareOptions po;
  po.inputs = {dir + "/text"};
  po.out_dir = dir + "/shards";
  po.val_fraction = 0.3;
  po.shard_tokens = 5000;
  data::prepare(po);
  return dir + "/shards";
}

TEST(Inspect, DescribesAndVerifiesAPreparedFolder) {
  const std::string shards = prepared_folder(scratch_dir());
  const data::ShardSetReport quick = data::inspect_shards(shards, false);
  EXPECT_FALSE(quick.verified);
  const data::ShardSetReport r = data::inspect_shards(shards, true);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(r.shards.size(), quick.shards.size());
  EXPECT_GE(r.train_files, 2);  // 6 docs of ~7.8k bytes in 5000-token shards
  EXPECT_GE(r.val_files, 1);
  EXPECT_EQ(r.train_files + r.val_files, int64_t(r.shards.size()));
  int64_t tokens = 0, docs = 0;
  for (const data::ShardInfo& s : r.shards) tokens += s.num_tokens, docs += s.num_docs;
  EXPECT_EQ(r.tokens, tokens);
  EXPECT_EQ(r.documents, docs);
  EXPECT_EQ(r.train_tokens + r.val_tokens, r.tokens);
  EXPECT_EQ(r.vocab_size, 256);
  EXPECT_EQ(r.eot_token, -1);
  EXPECT_EQ(r.dtype, "uint16");
  EXPECT_EQ(r.tokenizer.rfind("byte:", 0), 0u) << r.tokenizer;
  EXPECT_EQ(r.tokenizer_dir, shards + "/tokenizer");
}

TEST(Inspect, SingleFileNeedsNoTokenizerFolder) {
  const std::string dir = scratch_dir();
  plain_shard(dir + "/one.h5", 70'000, 70'000);  // uint32, two chunks
  const data::ShardSetReport r = data::inspect_shards(dir + "/one.h5", true);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(r.shards.size(), 1u);
  EXPECT_EQ(r.tokens, 70'000);
  EXPECT_EQ(r.dtype, "uint32");
  EXPECT_EQ(r.tokenizer_dir, "");
  EXPECT_EQ(r.train_files + r.val_files, 0);
}

TEST(Inspect, VerifyReadsIdsNoTrainingWindowCovers) {
  const std::string dir = scratch_dir();
  plain_shard(dir + "/tail.h5", 200'000, 1000);
  patch(dir + "/tail.h5", [](hid_t f) {
    const hid_t d = H5Dopen2(f, "tokens", H5P_DEFAULT), fs = H5Dget_space(d);
    const hsize_t at = 199'999, one = 1;
    const hid_t ms = H5Screate_simple(1, &one, nullptr);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, nullptr, &one, nullptr);
    const uint16_t bad = 4242;
    H5Dwrite(d, H5T_NATIVE_UINT16, ms, fs, H5P_DEFAULT, &bad);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
  });
  EXPECT_FALSE(data::inspect_shards(dir + "/tail.h5", false).verified);  // attributes are fine
  const std::string msg = input_error([&] { data::inspect_shards(dir + "/tail.h5", true); });
  EXPECT_NE(msg.find(dir + "/tail.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("token id 4242 at index 199999"), std::string::npos) << msg;
}

TEST(Inspect, DocOffsetsMustIncreaseInsideTokens) {
  const std::string dir = scratch_dir();
  plain_shard(dir + "/order.h5", 100, 256, {0, 10, 20});
  patch(dir + "/order.h5", [](hid_t f) { set_offsets(f, {0, 20, 10}); });
  std::string msg = input_error([&] { data::inspect_shards(dir + "/order.h5", true); });
  EXPECT_NE(msg.find(dir + "/order.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("doc_offsets[2] = 10 does not increase"), std::string::npos) << msg;

  plain_shard(dir + "/outside.h5", 100, 256, {0, 10, 20});
  patch(dir + "/outside.h5", [](hid_t f) { set_offsets(f, {0, 10, 100}); });
  msg = input_error([&] { data::inspect_shards(dir + "/outside.h5", true); });
  EXPECT_NE(msg.find("doc_offsets[2] = 100 is not inside /tokens (100 tokens)"), std::string::npos) << msg;
}

TEST(Inspect, ShardsMustAgree) {
  const std::string dir = scratch_dir();
  plain_shard(dir + "/train_000000.h5", 100, 256, {0}, "test:plain", -1);
  plain_shard(dir + "/train_000001.h5", 100, 256, {0}, "test:plain", 7);
  const std::string msg = input_error([&] { data::inspect_shards(dir, false); });
  EXPECT_NE(msg.find(dir + "/train_000001.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("eot_token is 7"), std::string::npos) << msg;
}

TEST(Inspect, TokenizerFolderMustExistAndMatch) {
  const std::string dir = scratch_dir();
  plain_shard(dir + "/train_000000.h5", 100, 256, {0}, "byte:not-this-one");
  std::string msg = input_error([&] { data::inspect_shards(dir, true); });
  EXPECT_NE(msg.find("no tokenizer/ folder"), std::string::npos) << msg;
  data::make_byte_tokenizer()->save(dir + "/tokenizer");
  msg = input_error([&] { data::inspect_shards(dir, true); });
  EXPECT_NE(msg.find(dir + "/tokenizer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the shard says byte:not-this-one"), std::string::npos) << msg;
  EXPECT_TRUE(data::inspect_shards(dir, false).tokenizer_dir == dir + "/tokenizer");  // describing is fine

  write_bytes(dir + "/tokenizer/tokenizer.yaml", "type: nonsense\n");
  msg = input_error([&] { data::inspect_shards(dir, true); });
  EXPECT_NE(msg.find(dir + "/tokenizer"), std::string::npos) << msg;
}

TEST(Inspect, PathsThatHoldNoShards) {
  const std::string dir = scratch_dir();
  EXPECT_NE(input_error([&] { data::inspect_shards(dir, false); }).find("holds no *.h5"), std::string::npos);
  EXPECT_NE(input_error([&] { data::inspect_shards(dir + "/nope", false); }).find(dir + "/nope"), std::string::npos);
}

// Ways to break a shard that both readers must report naming the file.
struct Broken {
  const char* what;
  std::function<void(const std::string& dir, const std::string& path)> make;
  const char* expect;  // part of the message
};

TEST(BrokenShards, LoaderAndInspectBothNameTheFile) {
  const std::vector<Broken> cases = {
      {"truncated", [](const std::string& dir, const std::string& p) {
         plain_shard(dir + "/whole.h5", 200'000);
         const std::string bytes = read_bytes(dir + "/whole.h5");
         write_bytes(p, bytes.substr(0, bytes.size() / 2));
       }, "truncated"},
      {"not hdf5", [](const std::string&, const std::string& p) { write_bytes(p, std::string(4096, 'x')); },
       "cannot be opened as HDF5"},
      {"damaged chunk index", [](const std::string& dir, const std::string& p) {
         plain_shard(dir + "/whole.h5", 200'000);
         std::string bytes = read_bytes(dir + "/whole.h5");
         // kiln writes HDF5's newest format, where a chunked dataset with an unlimited dimension is
         // indexed by an extensible array: header "EAHD", index block "EAIB", both checksummed.
         // Without them no chunk of /tokens can be found, while the root group still resolves.
         int damaged = 0;
         for (const std::string node : {"EAHD", "EAIB"})
           for (size_t at = bytes.find(node); at != std::string::npos; at = bytes.find(node, at + 4), ++damaged) {
             bytes.replace(at, 4, "XXXX");
           }
         EXPECT_GT(damaged, 0);
         write_bytes(p, bytes);
       }, "corrupt"},
      {"no /tokens", [](const std::string&, const std::string& p) {
         RawShard r;
         r.with_tokens = false;
         write_raw_shard(p, r);
       }, "/tokens is missing"},
      {"float /tokens", [](const std::string&, const std::string& p) {
         RawShard r;
         r.tokens_type = H5T_IEEE_F32LE;
         write_raw_shard(p, r);
       }, "dtype float32, expected uint16"},
  };
  const std::string base = scratch_dir();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Broken& c = cases[i];
    const std::string dir = base + "/case" + std::to_string(i);
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/train_000000.h5";
    c.make(dir, path);
    data::LoaderOptions o;
    o.pattern = dir + "/train_*.h5";
    o.seq_len = 16;
    o.micro_batch = 2;
    const std::string from_loader = input_error([&] { data::TrainLoader l(o); });
    EXPECT_NE(from_loader.find(path), std::string::npos) << c.what << ": " << from_loader;
    EXPECT_NE(from_loader.find(c.expect), std::string::npos) << c.what << ": " << from_loader;
    const std::string from_inspect = input_error([&] { data::inspect_shards(path, true); });
    EXPECT_NE(from_inspect.find(path), std::string::npos) << c.what << ": " << from_inspect;
    EXPECT_NE(from_inspect.find(c.expect), std::string::npos) << c.what << ": " << from_inspect;
  }
}

}  // namespace
