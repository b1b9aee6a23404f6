// formats/hf_export.h
// `kiln export --format hf`: a checkpoint as a Hugging Face GPT-2 folder that transformers loads
// as it is (`GPT2LMHeadModel.from_pretrained(dir)`, `AutoTokenizer.from_pretrained(dir)`):
//
//   config.json              GPT2Config names (n_layer, n_embd, n_head, vocab_size, n_positions, ...)
//   model.safetensors        the names GPT2LMHeadModel.save_pretrained writes, Conv1D weights [in, out]
//   vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json   (data/tokenizer_hf.h)
//
// Only the tokenizer's vocab_real rows of wte (and an untied lm_head) are written: kiln's padded
// rows never receive probability (CONTRACTS §6), and Hugging Face's softmax runs over every row it
// has, so dropping them gives the same distribution. Called by tools/cmd_export.cpp and tests;
// scripts/hf_gpt2_reference.py is the independent check that the folder computes kiln's loss.
#pragma once

#include <cstdint>
#include <string>

#include "configs/config.h"
#include "data/tokenizer.h"
#include "kernels/dtype.h"
#include "model/params.h"

namespace formats {

struct HfExportOptions {
  std::string checkpoint;                     // a checkpoint, checkpoints/ or run folder
  std::string out_dir;                        // created; must be absent or empty unless force
  kernels::DType dtype = kernels::DType::F32; // F32, BF16 or F16 (round to nearest even)
  bool force = false;                         // replace a non-empty out_dir
};

struct HfExportSummary {
  std::string checkpoint_dir, out_dir;
  int64_t step = 0;
  int64_t parameters = 0;  // elements written to model.safetensors
  int tensors = 0;
  int vocab_real = 0, vocab_padded = 0;
  bool tied = true;
};

// Writes the folder into out_dir + ".kiln-export.tmp" and renames it into place, so a half-written
// export never looks complete. Throws InputError naming the flag or path on bad input (missing
// checkpoint, --out not empty, a dtype other than the three, a tokenizer without HF equivalent).
HfExportSummary export_hf(const HfExportOptions& opt);

// The folder's files for weights already in memory, written into `dir` (which must exist): what
// export_hf does after loading the checkpoint, and what tests use to export weights of their own.
// params: the whole model (tp = 1), fp32 on the host; tokenizer_dir: the folder `tok` came from
// (GPT-2's files are copied from it).
HfExportSummary write_hf_folder(const model::ParamArena& params, const configs::ModelConfig& m, const data::Tokenizer& tok,
                                const std::string& tokenizer_dir, const std::string& dir, kernels::DType dtype);

}  // namespace formats
