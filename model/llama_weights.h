// model/llama_weights.h
// Llama's parameters: the spec list the arena is built from (Hugging Face LlamaForCausalLM's names,
// so checkpoints and `kiln export` use them as they are), and the parameters as named tensors,
// resolved from the arena once: the forward and backward passes read fields, never look a name up.
//
// C d_model, NH query heads, NKV key/value heads, hs = C/NH head size, F d_ff, V padded vocab, tp the
// tensor-parallel degree. Every matrix is stored (out, in), as nn.Linear stores it. q|k|v and gate|up
// are separate parameters packed back to back in the arena (ParamSpec::packed_with_next), so the
// model reads each pair or triple as one matrix and runs one matmul for it.
#pragma once

#include <vector>

#include "model/params.h"

namespace model {

struct LlamaLayerWeights {
  Tensor input_layernorm;           // (C)
  Tensor qkv_proj;                  // ((NH + 2*NKV)*hs/tp, C) col: this rank's q heads | k heads | v heads
  Tensor o_proj;                    // (C, NH*hs/tp)                row
  Tensor post_attention_layernorm;  // (C)
  Tensor gate_up_proj;              // (2F/tp, C)                   col: this rank's gate rows | up rows
  Tensor down_proj;                 // (C, F/tp)                    row
};

struct LlamaWeights {
  Tensor embed_tokens;                    // (V/tp, C) vocab-parallel
  std::vector<LlamaLayerWeights> layers;  // one per layer
  Tensor norm;                            // (C) the final RMSNorm
  Tensor lm_head;                         // (V/tp, C); empty when tied (the head is embed_tokens)
  const Tensor& head() const { return lm_head.empty() ? embed_tokens : lm_head; }
};

// The parameters of a Llama model, in a fixed order (the order is part of the init coordinates):
//   model.embed_tokens.weight (V,C)                                            normal(0.02), vocab rows
//   model.layers.i.input_layernorm.weight (C)                                 ones
//   model.layers.i.self_attn.{q_proj (NH*hs,C), k_proj (NKV*hs,C), v_proj (NKV*hs,C)}.weight
//                                                                              normal(0.02), rows, packed
//   model.layers.i.self_attn.o_proj.weight (C, NH*hs)                         normal(0.02/sqrt(2L)), cols
//   model.layers.i.post_attention_layernorm.weight (C)                        ones
//   model.layers.i.mlp.{gate_proj, up_proj}.weight (F,C)                      normal(0.02), rows, packed
//   model.layers.i.mlp.down_proj.weight (C,F)                                 normal(0.02/sqrt(2L)), cols
//   model.norm.weight (C)                                                     ones
//   lm_head.weight (V,C), untied only                                         normal(0.02), vocab rows
// Norm weights are not decayed; matrices and embeddings are. The projections that write into the
// residual stream get GPT-2's 1/sqrt(2L) scale (two per layer), which keeps the stream's variance
// independent of depth at initialisation.
std::vector<ParamSpec> llama_param_specs(const configs::ModelConfig& m, int vocab_real);

// Every Llama parameter of `params` (made from llama_param_specs) in the view asked for. The tensors
// stay valid as long as the arena's buffers (release_master() ends the kMaster view).
LlamaWeights llama_weights(const ParamArena& params, int n_layer, ArenaView view);

}  // namespace model
