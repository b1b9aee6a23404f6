// tests/tools/test_inspect_cli.cpp
// `kiln inspect PATH [--verify]` as scripts meet it (CONTRACTS §1, §6): exit 0 and one JSON object on
// the last line of stdout for good shards; exit 2 with the file named for a truncated file, a
// non-HDF5 file, a missing /tokens, a float /tokens and an id >= vocab_size, and the same for
// `kiln train` reading such a shard through the loader. Runs the real binary in a shell.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/prepare.h"
#include "data/shard.h"
#include "tests/data/test_util.h"

namespace {
namespace fs = std::filesystem;

struct Output {
  int code = -1;
  std::string out, err;
};

// stdout and stderr apart: the JSON must be the last line of stdout itself.
Output kiln(const std::string& args, const std::string& dir) {
  const std::string err_file = dir + "/stderr.txt";
  const std::string cmd = std::string(KILN_BIN) + " " + args + " 2>" + err_file;
  FILE* p = popen(cmd.c_str(), "r");
  Output o;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) o.out.append(buf.data(), n);
  const int status = pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.err = data_test::read_bytes(err_file);
  return o;
}

nlohmann::json last_line_json(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return nlohmann::json::parse(s.substr(s.rfind('\n') + 1));  // throws (test fails) if not JSON
}

std::string prepared(const std::string& dir) {
  std::string doc;
  for (int i = 0; i < 200; ++i) doc += "call me ishmael. ";
  for (int d = 0; d < 5; ++d) data_test::write_bytes(dir + "/text/d" + std::to_string(d) + ".txt", doc);
  data::PrepareOptions po;
  po.inputs = {dir + "/text"};
  po.out_dir = dir + "/shards";
  po.val_fraction = 0.2;
  po.shard_tokens = 2000;
  data::prepare(po);
  return dir + "/shards";
}

TEST(CliInspect, GoodFolderPrintsJsonLastAndExitsZero) {
  const std::string dir = data_test::scratch_dir();
  const std::string shards = prepared(dir);
  const Output v = kiln("inspect --verify " + shards, dir);
  ASSERT_EQ(v.code, 0) << v.out << v.err;
  const nlohmann::json j = last_line_json(v.out);
  EXPECT_EQ(j["kind"], "shards");
  EXPECT_EQ(j["vocab_size"], 256);
  EXPECT_EQ(j["eot_token"], -1);
  EXPECT_EQ(j["dtype"], "uint16");
  EXPECT_EQ(j["tokens"], 5 * 200 * 17);  // byte tokenizer: one token per byte
  EXPECT_GE(j["documents"].get<int>(), 5);  // a document continued in the next shard may count twice
  EXPECT_EQ(j["train_files"].get<int>() + j["val_files"].get<int>(), j["files"].get<int>());
  EXPECT_EQ(j["tokenizer"].get<std::string>().rfind("byte:", 0), 0u);
  EXPECT_EQ(j["tokenizer_dir"], shards + "/tokenizer");
  EXPECT_EQ(j["verified"], true);
  EXPECT_NE(v.out.find("train_000000.h5"), std::string::npos) << v.out;  // the per-file table

  const Output quick = kiln("inspect " + shards + "/train_000000.h5", dir);
  ASSERT_EQ(quick.code, 0) << quick.err;
  EXPECT_EQ(last_line_json(quick.out)["files"], 1);
  EXPECT_EQ(last_line_json(quick.out)["verified"], false);
}

TEST(CliInspect, HelpNamesTheFlag) {
  const std::string dir = data_test::scratch_dir();
  const Output h = kiln("inspect --help", dir);
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("--verify"), std::string::npos) << h.out;
}

// A good shard with one id raised past vocab_size (write_shard would refuse to write it).
void bad_id_shard(const std::string& path) {
  std::vector<uint32_t> ids(100'000, 65);
  data::write_shard(path, ids, {0}, 256, -1, "byte:test");
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t d = H5Dopen2(f, "tokens", H5P_DEFAULT), fs = H5Dget_space(d);
  const hsize_t at = 99'000, one = 1;
  const hid_t ms = H5Screate_simple(1, &one, nullptr);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, nullptr, &one, nullptr);
  const uint16_t id = 300;
  H5Dwrite(d, H5T_NATIVE_UINT16, ms, fs, H5P_DEFAULT, &id);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  H5Fclose(f);
}

TEST(CliInspect, BadShardsExitTwoNamingTheFile) {
  const std::string dir = data_test::scratch_dir();
  struct Case {
    const char* name;
    std::function<void(const std::string&)> make;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"truncated", [&](const std::string& p) {
         std::vector<uint32_t> ids(100'000, 7);
         data::write_shard(dir + "/whole.h5", ids, {0}, 256, -1, "byte:test");
         const std::string bytes = data_test::read_bytes(dir + "/whole.h5");
         data_test::write_bytes(p, bytes.substr(0, bytes.size() / 3));
       }, "truncated"},
      {"garbage", [](const std::string& p) { data_test::write_bytes(p, "definitely not HDF5\n"); }, "HDF5"},
      {"no_tokens", [](const std::string& p) {
         data_test::RawShard r;
         r.with_tokens = false;
         data_test::write_raw_shard(p, r);
       }, "/tokens is missing"},
      {"float_tokens", [](const std::string& p) {
         data_test::RawShard r;
         r.tokens_type = H5T_IEEE_F32LE;
         data_test::write_raw_shard(p, r);
       }, "dtype float32"},
      {"id_past_vocab", bad_id_shard, "token id 300 at index 99000"},
  };
  for (const Case& c : cases) {
    const std::string folder = dir + "/" + c.name;
    fs::create_directories(folder);
    const std::string file = folder + "/train_000000.h5";
    c.make(file);
    for (const std::string& target : {file, folder}) {
      const Output o = kiln("inspect --verify " + target, dir);
      EXPECT_EQ(o.code, 2) << c.name << ": " << o.out << o.err;
      EXPECT_NE(o.err.find(file), std::string::npos) << c.name << ": " << o.err;
      EXPECT_NE(o.err.find(c.expect), std::string::npos) << c.name << ": " << o.err;
    }
  }
  // Missing and empty paths name the path.
  Output o = kiln("inspect " + dir + "/nowhere", dir);
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find(dir + "/nowhere"), std::string::npos) << o.err;
  fs::create_directories(dir + "/empty");
  o = kiln("inspect --verify " + dir + "/empty", dir);
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find(dir + "/empty"), std::string::npos) << o.err;
}

TEST(CliInspect, TrainOnATruncatedShardExitsTwoNamingIt) {
  const std::string dir = data_test::scratch_dir();
  const std::string shards = prepared(dir);
  const std::string bad = dir + "/bad/train_000000.h5";
  const std::string bytes = data_test::read_bytes(shards + "/train_000000.h5");
  data_test::write_bytes(bad, bytes.substr(0, bytes.size() / 2));
  const std::string cfg = dir + "/run.yaml";
  data_test::write_bytes(cfg, "run: {name: r, out_dir: " + dir + "/runs}\n"
                              "model: {vocab_size: 256, seq_len: 16, n_layer: 1, n_head: 2, d_model: 16, d_ff: 32}\n"
                              "data: {train: \"" + dir + "/bad/train_*.h5\", val: \"" + shards + "/val_*.h5\"}\n"
                              "train: {device: cpu, precision: fp32, micro_batch: 2, global_batch: 2, max_steps: 1}\n");
  const Output o = kiln("train " + cfg, dir);
  EXPECT_EQ(o.code, 2) << o.out << o.err;
  EXPECT_NE(o.err.find(bad), std::string::npos) << o.err;
}

}  // namespace
