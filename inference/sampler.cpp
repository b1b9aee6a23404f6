// inference/sampler.cpp
#include "inference/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/check.h"
#include "kernels/rng.h"

namespace inference {

namespace {

// Ids ordered by probability, most probable first; ties by lower id.
std::vector<int> by_probability(const std::vector<double>& probs) {
  std::vector<int> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probs[size_t(a)] > probs[size_t(b)]; });
  return order;
}

void renormalise(std::vector<double>& probs) {
  const double sum = std::accumulate(probs.begin(), probs.end(), 0.0);
  for (double& p : probs) p /= sum;
}

}  // namespace

std::vector<double> softmax_with_temperature(const std::vector<float>& logits, double temperature) {
  KILN_CHECK(temperature > 0 && !logits.empty(), "softmax_with_temperature: temperature must be > 0, logits non-empty");
  const double max = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  for (size_t i = 0; i < p.size(); ++i) p[i] = std::exp((double(logits[i]) - max) / temperature);
  renormalise(p);
  return p;
}

void keep_top_k(std::vector<double>& probs, int k) {
  if (k <= 0 || size_t(k) >= probs.size()) return;
  const std::vector<int> order = by_probability(probs);
  for (size_t r = size_t(k); r < order.size(); ++r) probs[size_t(order[r])] = 0;
  renormalise(probs);
}

void keep_top_p(std::vector<double>& probs, double top_p) {
  if (top_p >= 1.0) return;
  const std::vector<int> order = by_probability(probs);
  double mass = 0;
  size_t kept = 0;
  while (kept < order.size() && (kept == 0 || mass < top_p)) mass += probs[size_t(order[kept++])];
  for (size_t r = kept; r < order.size(); ++r) probs[size_t(order[r])] = 0;
  renormalise(probs);
}

int choose_token(const std::vector<float>& logits, const SamplingOptions& o, uint64_t position) {
  if (o.temperature <= 0)
    return int(std::max_element(logits.begin(), logits.end()) - logits.begin());  // first max: lowest id
  std::vector<double> p = softmax_with_temperature(logits, o.temperature);
  keep_top_k(p, o.top_k);
  keep_top_p(p, o.top_p);
  // Inverse CDF over ids in order; a u that rounding carries past the total picks the last kept id.
  const double u = kernels::uniform01(kernels::mix(o.seed, kernels::Purpose::kSample), position);
  double cdf = 0;
  int last = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    cdf += p[i];
    last = int(i);
    if (u < cdf) return int(i);
  }
  return last;
}

}  // namespace inference
