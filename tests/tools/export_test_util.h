// tests/tools/export_test_util.h
// What the export tests share (test_export.cpp: GPT-2, test_export_llama.cpp: Llama): the Python the
// independent references run under, reading results back, the corpus they train on, and "loud"
// random weights under which every mapping matters.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "data/prepare.h"
#include "kernels/rng.h"
#include "model/params.h"
#include "tests/common/test_support.h"

namespace {

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, where setup.sh installs numpy + h5py

inline bool python_has_numpy_h5py() {
  return std::system((std::string(kPython) + " -c 'import numpy, h5py' >/dev/null 2>&1").c_str()) == 0;
}

#define REQUIRE_PYTHON()                                                                               \
  do {                                                                                                 \
    if (!python_has_numpy_h5py())                                                                      \
      GTEST_SKIP() << kPython << " lacks numpy or h5py (scripts/setup.sh installs python3-numpy and "  \
                   << "python3-h5py): the independent reference cannot run";                          \
  } while (0)

inline nlohmann::json last_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return nlohmann::json::parse(last);
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Documents of varied sentences, prepared with small shards so the validation windows come from
// several files (windows never span two: the reference must match that).
inline void prepare_corpus(const std::string& dir, const std::string& tokenizer) {
  const char* words[] = {"call", "me", "ishmael", "whale", "sea", "ship", "captain", "ahab", "white",
                         "the", "a", "of", "harpoon", "Queequeg", "rose", "near", "dark", "water"};
  for (int d = 0; d < 6; ++d) {
    std::string text;
    for (int i = 0; i < 900; ++i) {
      text += words[(i * 7 + d * 13 + i / 5) % 18];
      text += i % 11 == 10 ? ". " : " ";
    }
    kiln_test::write_file(dir + "/text/d" + std::to_string(d) + ".txt", text);
  }
  data::PrepareOptions po;
  po.inputs = {dir + "/text"};
  po.out_dir = dir + "/shards";
  po.tokenizer = tokenizer;
  po.val_fraction = 0.34;
  po.shard_tokens = tokenizer == "byte" ? 2000 : 500;
  data::prepare(po);
}

// Weights where every tensor and every index matters: each matrix row has norm ~3 (so attention
// scores have a std of several units and the softmax is sharp: a q/k/v or head mix-up, or a
// missing transpose, moves the loss by far more than the tolerance), LayerNorm gains 1 + noise,
// every bias nonzero, and kiln's vocab padding rows filled too: kiln masks them, the export must
// drop them. A model trained a few steps does not have this: its attention is nearly uniform.
inline void fill_loud_weights(model::ParamArena& p, uint64_t seed) {
  for (int i = 0; i < p.size(); ++i) {
    const model::ParamSpec& s = p.spec(i);
    const kernels::Tensor t = p.master(i);
    const bool matrix = s.shape.ndim == 2;
    const double scale = matrix ? 3.0 / std::sqrt(double(s.shape[1])) : 0.3;
    const double base = s.init == model::Init::kOnes ? 1.0 : 0.0;
    const uint64_t key = kernels::mix(seed, kernels::Purpose::kTest, uint64_t(i));
    for (int64_t e = 0; e < t.numel(); ++e) t.as<float>()[e] = float(base + scale * kernels::normal(key, uint64_t(e)));
  }
}

}  // namespace
