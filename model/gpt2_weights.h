// model/gpt2_weights.h
// GPT-2's parameters as named tensors (llm.c's ParameterTensors), resolved from the arena once, at
// construction: the forward and backward passes read fields, never look a name up in the step.
//
// One struct serves every view of the arena (compute weights, gradients, fp32 masters): the same
// fields point into different buffers. Shapes are this tp rank's (C channels, F = d_ff, V padded
// vocab, tp the tensor-parallel degree; "col" = column-parallel, "row" = row-parallel, Megatron's).
// Field names follow the Hugging Face names the arena and checkpoints use ("h.3.attn.c_attn.weight").
#pragma once

#include <vector>

#include "model/params.h"

namespace model {

struct Gpt2LayerWeights {
  Tensor ln_1_weight, ln_1_bias;             // (C), (C)
  Tensor c_attn_weight, c_attn_bias;         // (3C/tp, C), (3C/tp)   col: this rank's heads of q|k|v
  Tensor attn_proj_weight, attn_proj_bias;   // (C, C/tp), (C)        row: attn.c_proj
  Tensor ln_2_weight, ln_2_bias;             // (C), (C)
  Tensor c_fc_weight, c_fc_bias;             // (F/tp, C), (F/tp)     col
  Tensor mlp_proj_weight, mlp_proj_bias;     // (C, F/tp), (C)        row: mlp.c_proj
};

struct Gpt2Weights {
  Tensor wte;                       // (V/tp, C)  vocab-parallel embedding rows
  Tensor wpe;                       // (T, C)
  std::vector<Gpt2LayerWeights> h;  // one per layer
  Tensor ln_f_weight, ln_f_bias;    // (C), (C)
  Tensor lm_head_weight;            // (V/tp, C); empty when tied (the head is wte)
  // The output projection: lm_head when untied, else wte.
  const Tensor& head() const { return lm_head_weight.empty() ? wte : lm_head_weight; }
};

// Which of the arena's buffers the fields point into.
enum class ArenaView { kCompute, kGrad, kMaster };

// Every GPT-2 parameter of `params` (made from gpt2_param_specs) in the view asked for. The
// tensors stay valid as long as the arena's buffers (release_master() ends the kMaster view).
Gpt2Weights gpt2_weights(const ParamArena& params, int n_layer, ArenaView view);

}  // namespace model
