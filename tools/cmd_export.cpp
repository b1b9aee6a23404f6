// tools/cmd_export.cpp
// `kiln export --checkpoint PATH --format hf --out DIR [--dtype fp32|bf16|fp16] [--force]`: a
// checkpoint as a Hugging Face GPT-2 folder (trainer/hf_export.h does the work). Validates the
// flag values here so each error names its flag; prints the folder and a one-line summary.
#include <cstdio>
#include <memory>
#include <string>

#include "kernels/check.h"
#include "tools/checkpoint_options.h"
#include "tools/commands.h"
#include "formats/hf_export.h"

namespace tools {

namespace {

struct ExportArgs {
  std::string checkpoint, format, out, dtype = "fp32";
  bool force = false;
};

kernels::DType export_dtype(const std::string& name) {
  kernels::DType d;
  KILN_REQUIRE_INPUT(kernels::parse_precision(name, &d),
                     "--dtype: '" + name + "' is not an export dtype (expected fp32, bf16 or fp16)");
  return d;
}

void run_export(const ExportArgs& a) {
  KILN_REQUIRE_INPUT(a.format == "hf", "--format: '" + a.format + "' is not a known format (expected hf)");
  formats::HfExportOptions opt;
  opt.checkpoint = a.checkpoint;
  opt.out_dir = a.out;
  opt.dtype = export_dtype(a.dtype);
  opt.force = a.force;
  const formats::HfExportSummary s = formats::export_hf(opt);
  std::printf("kiln export | %s (step %lld) -> %s\n", s.checkpoint_dir.c_str(), (long long)s.step, s.out_dir.c_str());
  std::printf("%s: %lld parameters in %d tensors, %s, vocab %d (of %d padded rows), %s embeddings\n",
              s.out_dir.c_str(), (long long)s.parameters, s.tensors, a.dtype.c_str(), s.vocab_real, s.vocab_padded,
              s.tied ? "tied" : "untied");
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write a checkpoint as a Hugging Face GPT-2 folder (safetensors + config.json + tokenizer).");
  add_checkpoint_option(cmd, args->checkpoint);
  cmd->add_option("--format", args->format, "output format: hf (transformers' GPT2LMHeadModel)")->required();
  cmd->add_option("--out", args->out, "output folder; created, and must not exist or be empty (see --force)")->required();
  cmd->add_option("--dtype", args->dtype, "dtype of the exported weights: fp32, bf16 or fp16 (round to nearest even)")
      ->capture_default_str();
  cmd->add_flag("--force", args->force, "replace --out when it exists and is not empty");
  cmd->footer("Load the folder with transformers: GPT2LMHeadModel.from_pretrained(DIR), AutoTokenizer.from_pretrained(DIR).\n"
              "Only the tokenizer's vocabulary rows are written (padded rows are dropped).\n"
              "Exit codes: 0 fine, 2 a bad flag, a missing checkpoint or a non-empty --out (the message names it).");
  cmd->callback([args] { run_export(*args); });
}

}  // namespace tools
