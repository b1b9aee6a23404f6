// formats/hf_llama.cpp
// kiln's Llama parameters -> Hugging Face LlamaForCausalLM (hf_layout.h).
//
// kiln stores Llama under Hugging Face's own names and layouts (model/llama_weights.h), so the
// mapping is the identity except for the vocabulary padding:
//   model.embed_tokens.weight (V,C)  -> (Vr,C)   first Vr rows
//   lm_head.weight (V,C), untied     -> (Vr,C)   first Vr rows; tied models have none (as
//                                                save_pretrained writes them)
//   everything else                  -> as is: nn.Linear weights [out, in], norm weights (C)
// Why nothing else changes, checked by scripts/hf_llama_reference.py (tests/tools/test_export.cpp):
//  - q_proj, k_proj, v_proj are separate parameters (packed only inside kiln's arena); HF views each
//    as (heads, hs) rows, head-major, as kiln's attention reads them; query head h uses key/value
//    head h / (num_attention_heads / num_key_value_heads) in both (HF's repeat_kv).
//  - RoPE: kiln rotates channel i with i + hs/2 at inv_freq theta^(-2i/hs), HF's rotate_half; so
//    q_proj and k_proj rows need no interleaving permutation (the one Meta's original checkpoints
//    need on conversion).
//  - RMSNorm x * rsqrt(mean(x^2) + eps) * weight, SiLU-gated MLP down(silu(gate(x)) * up(x)), no
//    biases, scores scaled by 1/sqrt(hs), causal mask.
#include "formats/hf_layout.h"
#include "kernels/check.h"

namespace formats::detail {

namespace {

using Json = nlohmann::ordered_json;

// LlamaConfig's fields (transformers' names).
Json llama_config(const configs::ModelConfig& m, int vocab_real, int eot, kernels::DType dtype) {
  const Json special = eot >= 0 ? Json(eot) : Json(nullptr);
  Json c;
  c["architectures"] = {"LlamaForCausalLM"};
  c["model_type"] = "llama";
  c["vocab_size"] = vocab_real;
  c["hidden_size"] = m.d_model;
  c["intermediate_size"] = m.d_ff;
  c["num_hidden_layers"] = m.n_layer;
  c["num_attention_heads"] = m.n_head;
  c["num_key_value_heads"] = m.kv_heads();
  c["head_dim"] = m.head_dim();
  c["hidden_act"] = "silu";
  c["max_position_embeddings"] = m.seq_len;
  c["rms_norm_eps"] = m.rms_eps();
  c["rope_theta"] = m.rope_base();
  c["rope_scaling"] = nullptr;
  c["attention_bias"] = false;
  c["attention_dropout"] = 0.0;
  c["mlp_bias"] = false;
  c["initializer_range"] = 0.02;
  c["pretraining_tp"] = 1;
  c["use_cache"] = true;
  c["bos_token_id"] = special;
  c["eos_token_id"] = special;
  c["tie_word_embeddings"] = m.tied();
  c["torch_dtype"] = torch_dtype_name(dtype);
  return c;
}

}  // namespace

HfLayout hf_llama_layout(const model::ParamArena& params, const configs::ModelConfig& m, int vocab_real, int eot,
                         kernels::DType dtype) {
  HfLayout out;
  for (int i = 0; i < params.size(); ++i) out.tensors.push_back(hf_tensor(params, i, vocab_real, params.spec(i).name));
  out.config = llama_config(m, vocab_real, eot, dtype);
  return out;
}

}  // namespace formats::detail
