// tests/trainer/trainer_test_util.h
// Small models and random token windows shared by the trainer tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "configs/config.h"
#include "data/prepare.h"
#include "kernels/rng.h"
#include "tests/common/test_support.h"

namespace trainer_test {

// A GPT-2 small enough for finite differences and CPU training in milliseconds.
inline configs::ModelConfig small_model(int vocab, int seq_len, int d_model, int d_ff) {
  configs::ModelConfig m;
  m.vocab_size = vocab;
  m.seq_len = seq_len;
  m.n_layer = 2;
  m.n_head = 2;
  m.d_model = d_model;
  m.d_ff = d_ff;
  return m;
}

// A Llama of the same size class: n_head heads of d_model/n_head (even) channels on n_kv_head
// key/value heads, SwiGLU width d_ff; untied unless the caller ties it.
inline configs::ModelConfig small_llama(int vocab, int seq_len, int d_model, int n_head, int n_kv_head, int d_ff) {
  configs::ModelConfig m = small_model(vocab, seq_len, d_model, d_ff);
  m.arch = "llama";
  m.n_head = n_head;
  m.n_kv_head = n_kv_head;
  return m;
}

// B rows of T+1 ids uniform in [0, vocab), a pure function of seed.
inline std::vector<int32_t> random_windows(int B, int T, int vocab, uint64_t seed) {
  std::vector<int32_t> w(size_t(B) * (T + 1));
  for (size_t i = 0; i < w.size(); ++i) w[i] = int32_t(kernels::uniform01(seed, i) * vocab);
  return w;
}

// Writes `docs` byte-level documents of `phrases` phrases each (phrase(i, d) picks phrase i of
// document d) under dir/text and prepares them into dir/shards with 20% held out.
inline void prepare_phrase_corpus(const std::string& dir, int docs, int phrases,
                                  const std::function<const char*(int i, int d)>& phrase) {
  for (int d = 0; d < docs; ++d) {
    std::string text;
    for (int i = 0; i < phrases; ++i) text += phrase(i, d);
    kiln_test::write_file(dir + "/text/d" + std::to_string(d) + ".txt", text);
  }
  data::PrepareOptions po;
  po.inputs = {dir + "/text"};
  po.out_dir = dir + "/shards";
  po.val_fraction = 0.2;
  data::prepare(po);
}

// A two-layer byte-level GPT-2 trained in fp32 on the CPU from dir/shards, run folder
// dir/runs/name; callers set batch sizes, steps and cadence.
inline configs::Config cpu_run_config(const std::string& dir, const std::string& name, int n_head) {
  configs::Config c;
  c.run.out_dir = dir + "/runs";
  c.run.name = name;
  c.model.vocab_size = 256;
  c.model.seq_len = 16;
  c.model.n_layer = 2;
  c.model.n_head = n_head;
  c.model.d_model = 32;
  c.model.d_ff = 64;
  c.data.train = dir + "/shards/train_*.h5";
  c.data.val = dir + "/shards/val_*.h5";
  c.train.device = "cpu";
  c.train.precision = "fp32";
  c.train.micro_batch = 2;
  c.optim.lr = 3e-3;
  c.optim.warmup_steps = 3;
  c.eval.batches = 2;
  return c;
}

}  // namespace trainer_test
