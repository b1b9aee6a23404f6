// model/gpt2_weights.cpp
// The one place that maps GPT-2's parameter names to struct fields (see gpt2_weights.h).
#include "model/gpt2_weights.h"

#include <string>

namespace model {

Gpt2Weights gpt2_weights(const ParamArena& P, int n_layer, ArenaView view) {
  const auto get = [&](const std::string& name) {
    const int i = P.index_of(name);
    switch (view) {
      case ArenaView::kGrad: return P.grad(i);
      case ArenaView::kMaster: return P.master(i);
      case ArenaView::kCompute: break;
    }
    return P.compute(i);
  };
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
