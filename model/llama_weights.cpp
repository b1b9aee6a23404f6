// model/llama_weights.cpp
// The one place that knows Llama's parameter names: the spec list (shapes, init, tp splits, packing)
// and the mapping of names to struct fields (see llama_weights.h).
#include "model/llama_weights.h"

#include <cmath>
#include <string>

namespace model {

namespace {
std::string layer_prefix(int l) { return "model.layers." + std::to_string(l) + "."; }
}  // namespace

std::vector<ParamSpec> llama_param_specs(const configs::ModelConfig& m, int vocab_real) {
  const int64_t C = m.d_model, V = m.vocab_size, F = m.d_ff, L = m.n_layer;
  const int64_t hs = m.head_dim(), q_rows = int64_t(m.n_head) * hs, kv_rows = int64_t(m.kv_heads()) * hs;
  const float kStd = 0.02f;
  const float kResidualStd = kStd / std::sqrt(2.0f * float(L));
  std::vector<ParamSpec> s;
  int layer = -1;
  auto add = [&](std::string name, Shape shape, Init init, float std, bool decay, Split split, int padded = -1,
                 bool packed_with_next = false) {
    s.push_back({std::move(name), shape, init, std, decay, padded, split, layer, packed_with_next});
  };
  using enum Split;
  add("model.embed_tokens.weight", {V, C}, Init::kNormal, kStd, true, kRows, vocab_real);  // vocab-parallel
  for (int l = 0; l < L; ++l) {
    layer = l;
    const std::string p = layer_prefix(l);
    add(p + "input_layernorm.weight", {C}, Init::kOnes, 0, false, kReplicated);
    // Column-parallel by heads: rank r holds query heads r*NH/tp.. and key/value heads r*NKV/tp..,
    // which are exactly the key/value heads its query heads read (h / (NH/NKV)).
    add(p + "self_attn.q_proj.weight", {q_rows, C}, Init::kNormal, kStd, true, kRows, -1, true);
    add(p + "self_attn.k_proj.weight", {kv_rows, C}, Init::kNormal, kStd, true, kRows, -1, true);
    add(p + "self_attn.v_proj.weight", {kv_rows, C}, Init::kNormal, kStd, true, kRows);
    add(p + "self_attn.o_proj.weight", {C, q_rows}, Init::kNormal, kResidualStd, true, kCols);  // row-parallel
    add(p + "post_attention_layernorm.weight", {C}, Init::kOnes, 0, false, kReplicated);
    add(p + "mlp.gate_proj.weight", {F, C}, Init::kNormal, kStd, true, kRows, -1, true);  // column-parallel
    add(p + "mlp.up_proj.weight", {F, C}, Init::kNormal, kStd, true, kRows);
    add(p + "mlp.down_proj.weight", {C, F}, Init::kNormal, kResidualStd, true, kCols);  // row-parallel
  }
  layer = -1;
  add("model.norm.weight", {C}, Init::kOnes, 0, false, kReplicated);
  if (!m.tied()) add("lm_head.weight", {V, C}, Init::kNormal, kStd, true, kRows, vocab_real);
  return s;
}

LlamaWeights llama_weights(const ParamArena& P, int n_layer, ArenaView view) {
  const auto get = [&](const std::string& name) { return P.get(P.index_of(name), view); };
  const auto packed = [&](const std::string& first, int count) {
    return P.packed_rows(P.index_of(first), count, view);
  };
  LlamaWeights w;
  w.embed_tokens = get("model.embed_tokens.weight");
  for (int l = 0; l < n_layer; ++l) {
    const std::string p = layer_prefix(l);
    LlamaLayerWeights y;
    y.input_layernorm = get(p + "input_layernorm.weight");
    y.qkv_proj = packed(p + "self_attn.q_proj.weight", 3);  // q_proj | k_proj | v_proj
    y.o_proj = get(p + "self_attn.o_proj.weight");
    y.post_attention_layernorm = get(p + "post_attention_layernorm.weight");
    y.gate_up_proj = packed(p + "mlp.gate_proj.weight", 2);  // gate_proj | up_proj
    y.down_proj = get(p + "mlp.down_proj.weight");
    w.layers.push_back(y);
  }
  w.norm = get("model.norm.weight");
  if (P.has("lm_head.weight")) w.lm_head = get("lm_head.weight");
  return w;
}

}  // namespace model
