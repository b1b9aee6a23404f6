// formats/hf_layout.h
// Internal to formats/: how one architecture's parameters and config become a Hugging Face folder.
// hf_export.cpp writes whatever layout it is given (dtype conversion, vocab rows, transposes, the
// safetensors file, config.json, tokenizer files); hf_gpt2.cpp and hf_llama.cpp say what goes where.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "configs/config.h"
#include "kernels/dtype.h"
#include "model/params.h"

namespace formats::detail {

// Where one kiln parameter goes in model.safetensors.
struct HfTensor {
  std::string name;             // HF name
  int param = 0;                // index in the arena
  bool matrix = false;          // 2-D (else a vector of cols elements)
  int64_t rows = 1, cols = 1;   // kiln's shape after dropping vocab padding rows
  bool transpose = false;       // GPT-2's Conv1D: HF stores (cols, rows)
  std::vector<int64_t> hf_shape() const {
    if (!matrix) return {cols};
    return transpose ? std::vector<int64_t>{cols, rows} : std::vector<int64_t>{rows, cols};
  }
};

struct HfLayout {
  std::vector<HfTensor> tensors;   // in the arena's order
  nlohmann::ordered_json config;   // config.json
};

// An HfTensor for parameter i with kiln's shape (vocab padding rows dropped) and no transpose.
HfTensor hf_tensor(const model::ParamArena& params, int i, int vocab_real, std::string hf_name);
// "bfloat16" | "float16" | "float32": config.json's torch_dtype.
const char* torch_dtype_name(kernels::DType d);

// The layouts. eot: the tokenizer's end-of-text id (-1: none), written as bos/eos.
HfLayout hf_gpt2_layout(const model::ParamArena& params, const configs::ModelConfig& m, int vocab_real, int eot,
                        kernels::DType dtype);
HfLayout hf_llama_layout(const model::ParamArena& params, const configs::ModelConfig& m, int vocab_real, int eot,
                         kernels::DType dtype);

}  // namespace formats::detail
