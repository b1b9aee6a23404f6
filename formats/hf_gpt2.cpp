// formats/hf_gpt2.cpp
// kiln's GPT-2 parameters -> Hugging Face GPT2LMHeadModel (hf_layout.h).
//
// C d_model, F d_ff, T seq_len (= n_positions), V padded vocab, Vr the tokenizer's vocab.
// How kiln's tensors become HF's:
//   wte (V,C)                      -> transformer.wte.weight (Vr,C)       first Vr rows
//   wpe (T,C)                      -> transformer.wpe.weight (T,C)
//   h.i.ln_{1,2}.{weight,bias} (C) -> transformer.h.i.ln_{1,2}.*          as is
//   h.i.attn.c_attn.weight (3C,C)  -> transformer.h.i.attn.c_attn.weight (C,3C)   transposed
//   h.i.attn.c_proj.weight (C,C)   -> ...attn.c_proj.weight (C,C)                  transposed
//   h.i.mlp.c_fc.weight (F,C)      -> ...mlp.c_fc.weight (C,F)                     transposed
//   h.i.mlp.c_proj.weight (C,F)    -> ...mlp.c_proj.weight (F,C)                   transposed
//   biases, ln_f                   -> as is (transformer. prefix)
//   lm_head.weight (V,C), untied   -> lm_head.weight (Vr,C)               first Vr rows (nn.Linear)
// The transposes: kiln's matmul computes x @ W^T + b with W stored (out, in); HF's Conv1D
// computes x @ W + b with W stored (in, out). Tied models get no lm_head.weight: save_pretrained
// drops it too, and from_pretrained ties it to wte.
//
// q|k|v order inside c_attn: kiln's attention (kernels/cpu/attention.h) reads the 3C outputs as
// [q | k | v], each C = n_head heads of C/n_head consecutive channels (head h of q at h*hs, k at
// C + h*hs, v at 2C + h*hs). HF's GPT2Attention does qkv.split(C, dim=2) then views each as
// (n_head, hs) with the head index outermost: the same order, so columns need no permutation.
// The rest of the forward agrees as well: pre-LN blocks, LayerNorm eps 1e-5, tanh GELU (HF
// "gelu_new"), scores scaled by 1/sqrt(hs), causal mask, learned positions.
#include <string_view>

#include "formats/hf_layout.h"
#include "kernels/check.h"
#include "kernels/ops.h"

namespace formats::detail {

namespace {

using Json = nlohmann::ordered_json;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The linear layers GPT-2 implements as Conv1D (weights stored (in, out)).
bool is_conv1d_weight(const std::string& name) {
  for (const char* s : {".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"})
    if (ends_with(name, s)) return true;
  return false;
}

// GPT2Config's fields. bos/eos are written even when null: GPT2Config defaults them to 50256,
// which a 256-id byte model does not have.
Json gpt2_config(const configs::ModelConfig& m, int vocab_real, int eot, kernels::DType dtype) {
  const Json special = eot >= 0 ? Json(eot) : Json(nullptr);
  Json c;
  c["architectures"] = {"GPT2LMHeadModel"};
  c["model_type"] = "gpt2";
  c["vocab_size"] = vocab_real;
  c["n_positions"] = m.seq_len;
  c["n_ctx"] = m.seq_len;
  c["n_embd"] = m.d_model;
  c["n_layer"] = m.n_layer;
  c["n_head"] = m.n_head;
  c["n_inner"] = m.d_ff == 4 * m.d_model ? Json(nullptr) : Json(m.d_ff);  // null means 4 * n_embd
  c["activation_function"] = "gelu_new";  // HF's name for the tanh approximation kiln uses
  c["layer_norm_epsilon"] = kernels::kLayernormEps;
  c["resid_pdrop"] = 0.0;  // kiln trains without dropout
  c["embd_pdrop"] = 0.0;
  c["attn_pdrop"] = 0.0;
  c["initializer_range"] = 0.02;
  c["scale_attn_weights"] = true;  // 1/sqrt(head_dim)
  c["scale_attn_by_inverse_layer_idx"] = false;
  c["reorder_and_upcast_attn"] = false;
  c["use_cache"] = true;
  c["bos_token_id"] = special;
  c["eos_token_id"] = special;
  c["tie_word_embeddings"] = m.tied();
  c["torch_dtype"] = torch_dtype_name(dtype);
  return c;
}

}  // namespace

HfLayout hf_gpt2_layout(const model::ParamArena& params, const configs::ModelConfig& m, int vocab_real, int eot,
                        kernels::DType dtype) {
  HfLayout out;
  for (int i = 0; i < params.size(); ++i) {
    const std::string& name = params.spec(i).name;
    std::string hf = name == "wte" || name == "wpe" ? "transformer." + name + ".weight"
                     : name == "lm_head.weight"     ? name
                                                    : "transformer." + name;
    HfTensor t = hf_tensor(params, i, vocab_real, std::move(hf));
    if (t.matrix) {
      t.transpose = is_conv1d_weight(name);
      // A new kind of matrix must be placed here on purpose, never exported in a guessed layout.
      KILN_CHECK(t.transpose || name == "wte" || name == "wpe" || name == "lm_head.weight",
                 "hf export: no Hugging Face layout known for parameter " + name);
    }
    out.tensors.push_back(std::move(t));
  }
  out.config = gpt2_config(m, vocab_real, eot, dtype);
  return out;
}

}  // namespace formats::detail
