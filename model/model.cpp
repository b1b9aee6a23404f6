// model/model.cpp
// The architecture switch (param_specs, make_model) and the gradient buckets both models share.
#include "model/model.h"

#include "kernels/check.h"
#include "model/gpt2.h"
#include "model/gpt2_weights.h"
#include "model/llama.h"
#include "model/llama_weights.h"

namespace model {

double Model::forward(const std::vector<int32_t>& windows, int rows) {
  forward_layers(windows, rows);
  return loss_head().mean_loss();
}

void Model::forward_accumulate(const std::vector<int32_t>& windows, kernels::Tensor loss_acc, double divisor) {
  forward_layers(windows, -1);
  loss_head().accumulate_mean(loss_acc, divisor);
}

double Model::last_loss() const { return loss_head().mean_loss(); }

std::vector<ParamSpec> param_specs(const configs::ModelConfig& m, int vocab_real) {
  if (m.is_llama()) return llama_param_specs(m, vocab_real);
  KILN_CHECK(m.arch == "gpt2", "param_specs: unknown model.arch '" + m.arch + "' (validation should have refused it)");
  return gpt2_param_specs(m, vocab_real);
}

std::unique_ptr<Model> make_model(const configs::ModelConfig& cfg, int vocab_real, int micro_batch,
                                  const kernels::Ops& ops, Device device, ModelPrecision precision, parallel::Comm& tp,
                                  int zero_dp) {
  if (cfg.is_llama())
    return std::make_unique<LlamaModel>(cfg, vocab_real, micro_batch, ops, device, precision, tp, zero_dp);
  KILN_CHECK(cfg.arch == "gpt2",
             "make_model: unknown model.arch '" + cfg.arch + "' (validation should have refused it)");
  return std::make_unique<Gpt2Model>(cfg, vocab_real, micro_batch, ops, device, precision, tp, zero_dp);
}

std::vector<parallel::ShardRange> grad_buckets_by_layer(const ParamArena& P, int n_layer) {
  // first[l]: offset of layer l's first parameter; first[n_layer]: the tail (final norm, head).
  std::vector<int64_t> first(size_t(n_layer + 1), -1);
  int64_t tail = -1;
  for (int i = 0; i < P.size(); ++i) {
    const int l = P.spec(i).layer;
    KILN_CHECK(l < n_layer, "grad_buckets_by_layer: " + P.spec(i).name + " names layer " + std::to_string(l));
    if (l >= 0 && first[size_t(l)] < 0) first[size_t(l)] = P.offset(i);
    if (l < 0 && i > 0 && P.spec(i - 1).layer >= 0 && tail < 0) tail = P.offset(i);
  }
  for (int l = 0; l < n_layer; ++l)
    KILN_CHECK(first[size_t(l)] >= 0, "grad_buckets_by_layer: layer " + std::to_string(l) + " has no parameters");
  KILN_CHECK(tail >= 0, "grad_buckets_by_layer: no final norm after the layers");
  first[size_t(n_layer)] = tail;
  std::vector<parallel::ShardRange> b;
  b.push_back({tail, P.total_elements() - tail});  // final norm (+ lm_head, padding)
  for (int l = n_layer - 1; l >= 0; --l) b.push_back({first[size_t(l)], first[size_t(l + 1)] - first[size_t(l)]});
  b.push_back({0, first[0]});  // the embeddings
  return b;
}

}  // namespace model
