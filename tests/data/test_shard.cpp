// tests/data/test_shard.cpp
// Token shards (data/shard.h): write/read round trips for both dtypes, the on-disk layout checked
// with the plain HDF5 API, atomic writes, and every way a bad file must turn into an InputError
// that names it (garbage, truncation, missing dataset, wrong dtype/rank/attribute, id >= vocab).
// Also expand_glob ordering and its no-match error.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/shard.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;

// Reads a shard completely, the way a loader would: info, then every id.
void read_all(const std::string& path) {
  const data::ShardInfo info = data::read_shard_info(path);
  data::read_tokens(info, 0, info.num_tokens);
}

// The stored element size of /tokens, straight from HDF5 (independent of kiln's reader).
size_t stored_token_bytes(const std::string& path) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t ds = H5Dopen2(f, "tokens", H5P_DEFAULT);
  const hid_t t = H5Dget_type(ds);
  const size_t size = H5Tget_size(t);
  H5Tclose(t);
  H5Dclose(ds);
  H5Fclose(f);
  return size;
}

TEST(Shard, RoundTripUint16) {
  const std::string dir = scratch_dir(), path = dir + "/train_000000.h5";
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < 200'000; ++i) ids.push_back((i * 7919u) % 256u);  // spans 4 chunks
  data::write_shard(path, ids, {0, 100, 5000}, 256, -1, "byte:abc");

  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(stored_token_bytes(path), 2u);
  const data::ShardInfo info = data::read_shard_info(path);
  EXPECT_EQ(info.path, path);
  EXPECT_EQ(info.num_tokens, 200'000);
  EXPECT_EQ(info.num_docs, 3);
  EXPECT_EQ(info.vocab_size, 256);
  EXPECT_EQ(info.eot_token, -1);
  EXPECT_EQ(info.tokenizer, "byte:abc");

  const std::vector<int32_t> all = data::read_tokens(info, 0, info.num_tokens);
  ASSERT_EQ(all.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(uint32_t(all[i]), ids[i]) << "index " << i;
  // A range crossing a chunk boundary (64Ki) reads the same ids.
  const std::vector<int32_t> part = data::read_tokens(info, 65'530, 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(uint32_t(part[size_t(i)]), ids[size_t(65'530 + i)]);
  EXPECT_TRUE(data::read_tokens(info, 7, 0).empty());
}

TEST(Shard, RoundTripUint32) {
  const std::string path = scratch_dir() + "/big_vocab.h5";
  const std::vector<uint32_t> ids = {0, 65535, 65536, 69999, 12345, 1};
  data::write_shard(path, ids, {0, 3}, 70'000, 69'999, "bpe:xyz");
  EXPECT_EQ(stored_token_bytes(path), 4u);
  const data::ShardInfo info = data::read_shard_info(path);
  EXPECT_EQ(info.vocab_size, 70'000);
  EXPECT_EQ(info.eot_token, 69'999);
  EXPECT_EQ(info.num_docs, 2);
  const std::vector<int32_t> got = data::read_tokens(info, 0, 6);
  EXPECT_EQ(got, (std::vector<int32_t>{0, 65535, 65536, 69999, 12345, 1}));
  EXPECT_EQ(data::read_tokens(info, 2, 2), (std::vector<int32_t>{65536, 69999}));
}

TEST(Shard, AttributesOnDiskFollowTheContract) {
  const std::string path = scratch_dir() + "/a.h5";
  data::write_shard(path, {1, 2, 3}, {0}, 256, -1, "byte:0123");
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  int version = 0, vocab = 0, eot = 0;
  const auto read_int = [&](const char* name, int* v) {
    const hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    EXPECT_GE(H5Aread(a, H5T_NATIVE_INT, v), 0) << name;
    H5Aclose(a);
  };
  read_int("format_version", &version);
  read_int("vocab_size", &vocab);
  read_int("eot_token", &eot);
  EXPECT_EQ(version, 1);
  EXPECT_EQ(vocab, 256);
  EXPECT_EQ(eot, -1);
  // kiln_format is a fixed-length string "tokens" (no variable-length types: they live in HDF5's
  // unchecksummed global heap).
  const hid_t a = H5Aopen(f, "kiln_format", H5P_DEFAULT);
  const hid_t t = H5Aget_type(a);
  EXPECT_EQ(H5Tget_class(t), H5T_STRING);
  EXPECT_EQ(H5Tis_variable_str(t), 0);
  EXPECT_EQ(H5Tget_size(t), 6u);
  char s[7] = {};
  ASSERT_GE(H5Aread(a, t, s), 0);
  EXPECT_STREQ(s, "tokens");
  H5Tclose(t);
  H5Aclose(a);
  // The newest file format: superblock version 3 (HDF5 1.10), whose metadata carries checksums.
  H5F_info2_t info{};
  ASSERT_GE(H5Fget_info2(f, &info), 0);
  EXPECT_GE(info.super.version, 2u);
  hid_t fapl = H5Fget_access_plist(f);
  H5F_libver_t low{}, high{};
  H5Pget_libver_bounds(fapl, &low, &high);
  EXPECT_EQ(low, H5F_LIBVER_LATEST);
  H5Pclose(fapl);
  // /doc_offsets is uint64.
  const hid_t ds = H5Dopen2(f, "doc_offsets", H5P_DEFAULT);
  const hid_t dt = H5Dget_type(ds);
  EXPECT_EQ(H5Tget_size(dt), 8u);
  EXPECT_EQ(H5Tget_sign(dt), H5T_SGN_NONE);
  H5Tclose(dt);
  H5Dclose(ds);
  H5Fclose(f);
}

TEST(Shard, EmptyShardRoundTrips) {
  const std::string path = scratch_dir() + "/empty.h5";
  data::write_shard(path, {}, {}, 256, -1, "byte:x");
  const data::ShardInfo info = data::read_shard_info(path);
  EXPECT_EQ(info.num_tokens, 0);
  EXPECT_EQ(info.num_docs, 0);
}

TEST(Shard, ReaderAcceptsFixedLengthStrings) {
  const std::string path = scratch_dir() + "/raw.h5";
  write_raw_shard(path, RawShard{});
  const data::ShardInfo info = data::read_shard_info(path);
  EXPECT_EQ(info.tokenizer, "raw:test");
  EXPECT_EQ(data::read_tokens(info, 0, 4), (std::vector<int32_t>{1, 2, 3, 4}));
}

// Shards with variable-length string attributes (older kiln, h5py) are refused with a message that
// says what to do: libhdf5 can loop for ever decoding a damaged variable-length heap (fuzz_shard).
TEST(Shard, VariableLengthStringAttributesAreRefusedNamingTheFix) {
  const std::string path = scratch_dir() + "/old.h5";
  write_raw_shard(path, RawShard{});
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  for (const char* name : {"kiln_format", "tokenizer"}) {
    H5Adelete(f, name);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* v = std::string(name) == "tokenizer" ? "byte:old" : "tokens";
    H5Awrite(attr, type, &v);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
  }
  H5Fclose(f);
  try {
    data::read_shard_info(path);
    ADD_FAILURE() << "a variable-length string attribute was read";
  } catch (const kernels::InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("variable-length string"), std::string::npos) << msg;
    EXPECT_NE(msg.find("re-run kiln prepare"), std::string::npos) << msg;
  }
}

// Attributes are checked for class, size and element count before anything is read into kiln's
// one-value buffers.
TEST(ShardErrors, AttributesOfTheWrongShapeOrSize) {
  const std::string dir = scratch_dir();
  const auto with_attr = [&](const std::string& name, const std::function<void(hid_t)>& replace) {
    const std::string path = dir + "/" + name + ".h5";
    write_raw_shard(path, RawShard{});
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    replace(f);
    H5Fclose(f);
    return input_error([&] { data::read_shard_info(path); });
  };
  std::string msg = with_attr("two_values", [](hid_t f) {
    H5Adelete(f, "vocab_size");
    const hsize_t two = 2;
    const int v[2] = {256, 256};
    const hid_t space = H5Screate_simple(1, &two, nullptr);
    const hid_t a = H5Acreate2(f, "vocab_size", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, v);
    H5Aclose(a);
    H5Sclose(space);
  });
  EXPECT_NE(msg.find("attribute vocab_size is int32 or not a single value"), std::string::npos) << msg;
  msg = with_attr("wide_int", [](hid_t f) {
    H5Adelete(f, "eot_token");
    const hid_t t = H5Tcopy(H5T_STD_I64LE);
    H5Tset_size(t, 16);
    const unsigned char v[16] = {};
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(f, "eot_token", t, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
  });
  EXPECT_NE(msg.find("attribute eot_token is int128 or not a single value"), std::string::npos) << msg;
  msg = with_attr("huge_string", [](hid_t f) {
    H5Adelete(f, "tokenizer");
    write_fixed_string_attr(f, "tokenizer", std::string(5000, 'x'));  // object headers hold < 64 KiB
  });
  EXPECT_NE(msg.find("attribute tokenizer is a string of 5001 bytes (expected 1..4096)"), std::string::npos) << msg;
}

TEST(ShardErrors, FifoIsRefusedBeforeOpening) {
  const std::string path = scratch_dir() + "/fifo.h5";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const std::string msg = input_error([&] { data::read_shard_info(path); });
  EXPECT_EQ(msg, "shard " + path + ": is a FIFO (named pipe), expected a regular HDF5 token shard file");
}

TEST(ShardErrors, MissingFile) {
  const std::string path = scratch_dir() + "/nope.h5";
  const std::string msg = input_error([&] { data::read_shard_info(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
}

TEST(ShardErrors, GarbageBytes) {
  const std::string path = scratch_dir() + "/garbage.h5";
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(char((i * 31 + 7) & 0xFF));
  write_bytes(path, junk);
  const std::string msg = input_error([&] { read_all(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot be opened as HDF5"), std::string::npos) << msg;
}

TEST(ShardErrors, TruncatedFile) {
  const std::string path = scratch_dir() + "/train_000000.h5";
  std::vector<uint32_t> ids(300'000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = uint32_t(i % 251);
  data::write_shard(path, ids, {0}, 256, -1, "byte:abc");
  const auto size = fs::file_size(path);
  fs::resize_file(path, size / 2);
  const std::string msg = input_error([&] { read_all(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  std::cout << "[truncated shard message] " << msg << "\n";
}

TEST(ShardErrors, MissingTokensDataset) {
  const std::string path = scratch_dir() + "/no_tokens.h5";
  RawShard r;
  r.with_tokens = false;
  write_raw_shard(path, r);
  const std::string msg = input_error([&] { data::read_shard_info(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("/tokens is missing"), std::string::npos) << msg;
}

TEST(ShardErrors, MissingDocOffsets) {
  const std::string path = scratch_dir() + "/no_offsets.h5";
  RawShard r;
  r.with_offsets = false;
  write_raw_shard(path, r);
  const std::string msg = input_error([&] { data::read_shard_info(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("/doc_offsets is missing"), std::string::npos) << msg;
}

TEST(ShardErrors, FloatTokens) {
  const std::string path = scratch_dir() + "/float.h5";
  RawShard r;
  r.tokens_type = H5T_IEEE_F32LE;
  write_raw_shard(path, r);
  const std::string msg = input_error([&] { data::read_shard_info(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("dtype float32, expected uint16"), std::string::npos) << msg;
}

TEST(ShardErrors, WideTokensForSmallVocab) {
  const std::string path = scratch_dir() + "/wide.h5";
  RawShard r;
  r.tokens_type = H5T_STD_U32LE;  // vocab 256 must be stored as uint16
  write_raw_shard(path, r);
  const std::string msg = input_error([&] { data::read_shard_info(path); });
  EXPECT_NE(msg.find("dtype uint32, expected uint16"), std::string::npos) << msg;
}

TEST(ShardErrors, TwoDimensionalTokens) {
  const std::string path = scratch_dir() + "/rank2.h5";
  RawShard r;
  r.tokens_rank = 2;
  write_raw_shard(path, r);
  const std::string msg = input_error([&] { data::read_shard_info(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank 2, expected 1-D"), std::string::npos) << msg;
}

TEST(ShardErrors, WrongFormatAndVersion) {
  const std::string dir = scratch_dir();
  RawShard r;
  r.kiln_format = "checkpoint";
  write_raw_shard(dir + "/fmt.h5", r);
  std::string msg = input_error([&] { data::read_shard_info(dir + "/fmt.h5"); });
  EXPECT_NE(msg.find(dir + "/fmt.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("kiln_format is \"checkpoint\", expected \"tokens\""), std::string::npos) << msg;

  r = RawShard{};
  r.format_version = 2;
  write_raw_shard(dir + "/ver.h5", r);
  msg = input_error([&] { data::read_shard_info(dir + "/ver.h5"); });
  EXPECT_NE(msg.find("format_version is 2"), std::string::npos) << msg;
}

TEST(ShardErrors, IdAtLeastVocabSize) {
  const std::string path = scratch_dir() + "/bad_id.h5";
  RawShard r;
  r.vocab_size = 100;
  r.tokens = {5, 6, 7, 8, 9, 10, 11, 150, 12};
  write_raw_shard(path, r);
  const data::ShardInfo info = data::read_shard_info(path);  // ids are checked on read, not here
  EXPECT_EQ(data::read_tokens(info, 0, 7).size(), 7u);     // the range before the bad id is fine
  const std::string msg = input_error([&] { data::read_tokens(info, 0, info.num_tokens); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("token id 150 at index 7 is >= vocab_size 100"), std::string::npos) << msg;
  std::cout << "[id >= vocab_size message] " << msg << "\n";
}

TEST(ShardErrors, RangeOutsideShard) {
  const std::string path = scratch_dir() + "/small.h5";
  data::write_shard(path, {1, 2, 3}, {0}, 256, -1, "byte:x");
  const data::ShardInfo info = data::read_shard_info(path);
  const std::string msg = input_error([&] { data::read_tokens(info, 2, 5); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds 3"), std::string::npos) << msg;
}

TEST(Glob, SortedFilesOnly) {
  const std::string dir = scratch_dir();
  for (const char* n : {"train_000002.h5", "train_000000.h5", "train_000010.h5", "train_000001.h5", "val_000000.h5"}) {
    write_bytes(dir + "/" + n, "x");
  }
  fs::create_directories(dir + "/train_folder.h5");  // folders are not shard files
  const std::vector<std::string> got = data::expand_glob(dir + "/train_*.h5");
  EXPECT_EQ(got, (std::vector<std::string>{dir + "/train_000000.h5", dir + "/train_000001.h5",
                                           dir + "/train_000002.h5", dir + "/train_000010.h5"}));
  EXPECT_EQ(data::expand_glob(dir + "/val_000000.h5"), (std::vector<std::string>{dir + "/val_000000.h5"}));
}

TEST(Glob, NoMatchNamesThePattern) {
  const std::string pattern = scratch_dir() + "/missing_*.h5";
  const std::string msg = input_error([&] { data::expand_glob(pattern); });
  EXPECT_NE(msg.find(pattern), std::string::npos) << msg;
  EXPECT_NE(msg.find("matches no files"), std::string::npos) << msg;
}

}  // namespace
