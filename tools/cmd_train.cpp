// tools/cmd_train.cpp
// `kiln train CONFIG.yaml [section.key=value ...]`: load + validate the config (before any
// allocation), train, and say where the run folder and its curves are.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "configs/load.h"
#include "tools/commands.h"
#include "trainer/trainer.h"

namespace tools {

namespace {
struct TrainArgs {
  std::string config;
  std::vector<std::string> overrides;
};
}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train (or resume) a run described by a YAML config.");
  cmd->add_option("config", args->config, "experiment config (YAML); may name `base: other.yaml` to inherit one")
      ->required();
  cmd->add_option("overrides", args->overrides,
                  "dotted overrides applied after the file, e.g. optim.lr=3e-4 train.max_steps=100 run.name=x");
  cmd->footer(
      "Writes <run.out_dir>/<run.name>/: config.yaml (resolved), metrics.jsonl (one line per log step),\n"
      "eval.jsonl (val loss, perplexity, bits per byte). Exit codes: 0 done, 2 bad config or data.");
  cmd->callback([args] {
    const configs::Config cfg = configs::load_config(args->config, args->overrides);
    trainer::Trainer t(cfg);
    const trainer::RunSummary s = t.run();
    std::printf("\nkiln | done: %d steps, final train loss %.4f", s.steps, s.final_loss);
    if (s.evaluated)
      std::printf(", val loss %.4f, val perplexity %.3f, val bits/byte %.4f", s.final_eval.loss,
                  s.final_eval.perplexity, s.final_eval.bits_per_byte);
    std::printf(", %.0f tokens/s\n", s.tokens_per_s);
    std::printf("kiln | run folder: %s (config.yaml, metrics.jsonl, eval.jsonl)\n", s.run_dir.c_str());
  });
}

}  // namespace tools
