// tests/trainer/trainer_test_util.h
// Small models and random token windows shared by the trainer tests.
#pragma once

#include <cstdint>
#include <vector>

#include "configs/config.h"
#include "kernels/rng.h"

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

// B rows of T+1 ids uniform in [0, vocab), a pure function of seed.
inline std::vector<int32_t> random_windows(int B, int T, int vocab, uint64_t seed) {
  std::vector<int32_t> w(size_t(B) * (T + 1));
  for (size_t i = 0; i < w.size(); ++i) w[i] = int32_t(kernels::uniform01(seed, i) * vocab);
  return w;
}

}  // namespace trainer_test
