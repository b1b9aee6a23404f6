// inference/sampler.h
// Choosing the next token from logits: greedy (temperature 0), temperature, top-k and top-p
// (nucleus), in that order, as pure functions of (logits, options, seed, position) so a seed
// reproduces a sample exactly.
//
//   p = softmax(logits / temperature)          (max subtracted first: exp stays finite)
//   top-k: keep the k most probable ids        (k = 0: all)
//   top-p: keep the smallest most-probable-first prefix whose mass reaches p   (p = 1: all)
//   renormalise what is kept and draw with uniform01(mix(seed, kSample), position)
// Ties in probability keep the lower id first, so the kept set is deterministic too.
#pragma once

#include <cstdint>
#include <vector>

namespace inference {

struct SamplingOptions {
  double temperature = 1.0;  // 0: greedy (argmax), and top-k/top-p do not matter
  int top_k = 0;             // 0: no limit
  double top_p = 1.0;        // in (0, 1]
  uint64_t seed = 1337;
};

// softmax(logits / temperature) in double. temperature > 0.
std::vector<double> softmax_with_temperature(const std::vector<float>& logits, double temperature);
// Zeroes all but the k largest probabilities (k <= 0: none) and renormalises.
void keep_top_k(std::vector<double>& probs, int k);
// Zeroes all but the smallest most-probable-first prefix whose sum reaches top_p; renormalises.
void keep_top_p(std::vector<double>& probs, double top_p);
// The id drawn for `position` (the index of the token being generated): argmax when temperature is
// 0, else a draw from the filtered distribution.
int choose_token(const std::vector<float>& logits, const SamplingOptions& o, uint64_t position);

}  // namespace inference
