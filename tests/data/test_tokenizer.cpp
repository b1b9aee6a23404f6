// tests/data/test_tokenizer.cpp
// The byte tokenizer and tokenizer folders (data/tokenizer.h): exact ids for every byte value,
// decode(encode(x)) == x for arbitrary bytes, save/load of the folder, and the InputErrors for a
// missing folder, a missing tokenizer.yaml, an unknown type and a wrong vocab_size.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "kernels/rng.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;

TEST(ByteTokenizer, Basics) {
  const auto tok = data::make_byte_tokenizer();
  EXPECT_EQ(tok->name(), "byte");
  EXPECT_EQ(tok->vocab_size(), 256);
  EXPECT_EQ(tok->eot_token(), -1);
  EXPECT_EQ(tok->token_bytes(0), 1);
  EXPECT_EQ(tok->token_bytes(255), 1);
  EXPECT_EQ(tok->token_bytes(256), 0);
  const std::string fp = tok->fingerprint();
  EXPECT_EQ(fp.rfind("byte:", 0), 0u) << fp;
  EXPECT_EQ(fp.size(), 5u + 12u) << fp;
  EXPECT_EQ(fp, data::make_byte_tokenizer()->fingerprint());  // stable
}

TEST(ByteTokenizer, EveryByteIsItsOwnId) {
  const auto tok = data::make_byte_tokenizer();
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::vector<uint32_t> ids = tok->encode(all);
  ASSERT_EQ(ids.size(), 256u);
  for (uint32_t b = 0; b < 256; ++b) EXPECT_EQ(ids[b], b);
  EXPECT_EQ(tok->encode(std::string("\x00\xff", 2)), (std::vector<uint32_t>{0, 255}));
  EXPECT_EQ(tok->decode({104, 105, 0, 255}), std::string("hi\x00\xff", 4));
}

TEST(ByteTokenizer, RoundTripsArbitraryBytes) {
  const auto tok = data::make_byte_tokenizer();
  const uint64_t key = kernels::mix(7, kernels::Purpose::kTest);
  for (int len : {0, 1, 2, 17, 1000}) {
    std::string s;
    for (int i = 0; i < len; ++i) s.push_back(static_cast<char>(kernels::hash64(key + uint64_t(i)) & 0xFF));
    if (len >= 2) {
      s[0] = '\0';
      s[size_t(len) - 1] = '\xff';
    }
    EXPECT_EQ(tok->decode(tok->encode(s)), s) << "length " << len;
  }
}

TEST(ByteTokenizer, DecodeRejectsNonByteIds) {
  const auto tok = data::make_byte_tokenizer();
  const std::string msg = input_error([&] { tok->decode({65, 256}); });
  EXPECT_NE(msg.find("id 256 at position 1"), std::string::npos) << msg;
}

TEST(TokenizerFolder, SaveAndLoad) {
  const std::string dir = scratch_dir() + "/tokenizer";
  const auto tok = data::make_byte_tokenizer();
  tok->save(dir);  // creates the folder
  const std::string yaml = read_bytes(dir + "/tokenizer.yaml");
  EXPECT_NE(yaml.find("type: byte"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("vocab_size: 256"), std::string::npos) << yaml;
  const auto back = data::load_tokenizer(dir);
  EXPECT_EQ(back->name(), "byte");
  EXPECT_EQ(back->vocab_size(), 256);
  EXPECT_EQ(back->fingerprint(), tok->fingerprint());
}

TEST(TokenizerFolder, MinimalYamlLoads) {
  const std::string dir = scratch_dir();
  write_bytes(dir + "/tokenizer.yaml", "type: byte\n");
  EXPECT_EQ(data::load_tokenizer(dir)->name(), "byte");
}

TEST(TokenizerFolder, MissingFolder) {
  const std::string dir = scratch_dir() + "/absent";
  const std::string msg = input_error([&] { data::load_tokenizer(dir); });
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(TokenizerFolder, MissingYaml) {
  const std::string dir = scratch_dir();
  const std::string msg = input_error([&] { data::load_tokenizer(dir); });
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  EXPECT_NE(msg.find("has no tokenizer.yaml"), std::string::npos) << msg;
}

TEST(TokenizerFolder, UnknownType) {
  const std::string dir = scratch_dir();
  write_bytes(dir + "/tokenizer.yaml", "type: wordpiece\n");
  const std::string msg = input_error([&] { data::load_tokenizer(dir); });
  EXPECT_NE(msg.find(dir + "/tokenizer.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown tokenizer type 'wordpiece'"), std::string::npos) << msg;
}

TEST(TokenizerFolder, BadContents) {
  const std::string dir = scratch_dir();
  write_bytes(dir + "/tokenizer.yaml", "vocab_size: 256\n");
  EXPECT_NE(input_error([&] { data::load_tokenizer(dir); }).find("no `type` key"), std::string::npos);
  write_bytes(dir + "/tokenizer.yaml", "type: byte\nvocab_size: 300\n");
  EXPECT_NE(input_error([&] { data::load_tokenizer(dir); }).find("vocab_size is 300"), std::string::npos);
  write_bytes(dir + "/tokenizer.yaml", "type: [unclosed\n");
  EXPECT_NE(input_error([&] { data::load_tokenizer(dir); }).find(dir + "/tokenizer.yaml: YAML syntax error at line 2"),
            std::string::npos);
}

}  // namespace
