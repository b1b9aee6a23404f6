// tests/tools/cli_test_util.h
// Running the real `kiln` binary from a test, and a tiny prepared corpus + config to run it on.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "data/prepare.h"
#include "tests/common/test_support.h"

namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out;  // stdout (and stderr, by default)
};

// Runs a shell command line; stderr_to says where its stderr goes ("&1": into out with stdout,
// "/dev/null": dropped).
inline Result shell(const std::string& cmd, const std::string& stderr_to = "&1") {
  FILE* p = popen((cmd + " 2>" + stderr_to).c_str(), "r");
  Result r;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The kiln binary with these arguments.
inline Result run(const std::string& args, const std::string& stderr_to = "&1") {
  return shell(std::string(KILN_BIN) + " " + args, stderr_to);
}

// The JSON object on the last line of a command's stdout (CONTRACTS §1).
inline nlohmann::json last_json_line(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  const size_t begin = out.rfind('\n', end);
  return nlohmann::json::parse(out.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin + 1)));
}

// A prepared byte-level corpus and a config that trains on it for 2 steps.
inline std::string prepared(const std::string& dir) {
  fs::create_directories(dir + "/text");
  for (int d = 0; d < 4; ++d) {
    std::string doc;
    for (int i = 0; i < 200; ++i) doc += "call me ishmael. ";
    kiln_test::write_file(dir + "/text/d" + std::to_string(d) + ".txt", doc);
  }
  data::PrepareOptions po;
  po.inputs = {dir + "/text"};
  po.out_dir = dir + "/shards";
  po.val_fraction = 0.25;
  data::prepare(po);
  const std::string cfg = dir + "/run.yaml";
  kiln_test::write_file(cfg, "run: {name: r, out_dir: " + dir + "/runs}\n"
             "model: {vocab_size: 256, seq_len: 16, n_layer: 1, n_head: 2, d_model: 16, d_ff: 32}\n"
             "data: {train: \"" + dir + "/shards/train_*.h5\", val: \"" + dir + "/shards/val_*.h5\"}\n"
             "train: {device: cpu, precision: fp32, micro_batch: 2, global_batch: 2, max_steps: 2, log_every: 1}\n"
             "eval: {every: 0, batches: 1}\n");
  return cfg;
}

}  // namespace
