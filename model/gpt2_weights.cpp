// model/gpt2_weights.cpp
// The one place that knows GPT-2's parameter names: the spec list (shapes, init, tp splits) and the
// mapping of names to struct fields (see gpt2_weights.h).
#include "model/gpt2_weights.h"

#include <cmath>
#include <string>

namespace model {

std::vector<ParamSpec> gpt2_param_specs(const configs::ModelConfig& m, int vocab_real) {
  const int64_t C = m.d_model, V = m.vocab_size, F = m.d_ff, L = m.n_layer;
  const float kStd = 0.02f;
  // GPT-2 scales the projections that write into the residual stream by 1/sqrt(2L): each layer
  // adds two of them, and without it the residual variance grows with depth.
  const float kResidualStd = kStd / std::sqrt(2.0f * float(L));
  std::vector<ParamSpec> s;
  int layer = -1;  // set while the layers' parameters are added
  auto add = [&](std::string name, Shape shape, Init init, float std, bool decay, Split split, int padded = -1) {
    s.push_back({std::move(name), shape, init, std, decay, padded, split, layer});
  };
  using enum Split;
  add("wte", {V, C}, Init::kNormal, kStd, true, kRows, vocab_real);  // vocab-parallel embedding
  add("wpe", {m.seq_len, C}, Init::kNormal, kStd, true, kReplicated);
  for (int64_t l = 0; l < L; ++l) {
    layer = int(l);
    const std::string h = "h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", {C}, Init::kOnes, 0, false, kReplicated);
    add(h + "ln_1.bias", {C}, Init::kZeros, 0, false, kReplicated);
    add(h + "attn.c_attn.weight", {3 * C, C}, Init::kNormal, kStd, true, kQkvRows);     // column-parallel
    add(h + "attn.c_attn.bias", {3 * C}, Init::kZeros, 0, false, kQkvRows);
    add(h + "attn.c_proj.weight", {C, C}, Init::kNormal, kResidualStd, true, kCols);    // row-parallel
    add(h + "attn.c_proj.bias", {C}, Init::kZeros, 0, false, kReplicated);
    add(h + "ln_2.weight", {C}, Init::kOnes, 0, false, kReplicated);
    add(h + "ln_2.bias", {C}, Init::kZeros, 0, false, kReplicated);
    add(h + "mlp.c_fc.weight", {F, C}, Init::kNormal, kStd, true, kRows);               // column-parallel
    add(h + "mlp.c_fc.bias", {F}, Init::kZeros, 0, false, kRows);
    add(h + "mlp.c_proj.weight", {C, F}, Init::kNormal, kResidualStd, true, kCols);     // row-parallel
    add(h + "mlp.c_proj.bias", {C}, Init::kZeros, 0, false, kReplicated);
  }
  layer = -1;
  add("ln_f.weight", {C}, Init::kOnes, 0, false, kReplicated);
  add("ln_f.bias", {C}, Init::kZeros, 0, false, kReplicated);
  if (!m.tied()) add("lm_head.weight", {V, C}, Init::kNormal, kStd, true, kRows, vocab_real);
  return s;
}

Gpt2Weights gpt2_weights(const ParamArena& P, int n_layer, ArenaView view) {
  const auto get = [&](const std::string& name) { return P.get(P.index_of(name), view); };
  Gpt2Weights w;
  w.wte = get("wte");
  w.wpe = get("wpe");
  for (int l = 0; l < n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Gpt2LayerWeights y;
    y.ln_1_weight = get(h + "ln_1.weight");
    y.ln_1_bias = get(h + "ln_1.bias");
    y.c_attn_weight = get(h + "attn.c_attn.weight");
    y.c_attn_bias = get(h + "attn.c_attn.bias");
    y.attn_proj_weight = get(h + "attn.c_proj.weight");
    y.attn_proj_bias = get(h + "attn.c_proj.bias");
    y.ln_2_weight = get(h + "ln_2.weight");
    y.ln_2_bias = get(h + "ln_2.bias");
    y.c_fc_weight = get(h + "mlp.c_fc.weight");
    y.c_fc_bias = get(h + "mlp.c_fc.bias");
    y.mlp_proj_weight = get(h + "mlp.c_proj.weight");
    y.mlp_proj_bias = get(h + "mlp.c_proj.bias");
    w.h.push_back(y);
  }
  w.ln_f_weight = get("ln_f.weight");
  w.ln_f_bias = get("ln_f.bias");
  if (P.has("lm_head.weight")) w.lm_head_weight = get("lm_head.weight");
  return w;
}

}  // namespace model
