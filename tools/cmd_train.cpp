// tools/cmd_train.cpp
// `kiln train CONFIG.yaml [section.key=value ...]`: load + validate the config (before any
// allocation), train, and say where the run folder and its curves are.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "configs/load.h"
#include "launch/world.h"
#include "model/placement.h"
#include "parallel/groups.h"
#include "parallel/layout.h"
#include "tools/commands.h"
#include "tools/ranks.h"
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
      "eval.jsonl (val loss, perplexity, bits per byte). Exit codes: 0 done, 1 internal error, 2 bad config or\n"
      "data, 3 stopped by SIGTERM/SIGUSR1 after a checkpoint, 4 stopped by a numeric guard (train.max_skipped_steps\n"
      "skipped steps in a row, non-finite weights before a checkpoint, a failed replay check), 5 a collective did\n"
      "not complete within parallel.timeout_s (the collective watchdog).");
  cmd->callback([args] {
    // Order matters: the world is discovered (MPI started under mpirun/srun), then the config and
    // the layout are validated on every rank, all before any large allocation.
    launch::Launched launched = start_ranks();
    const configs::Config cfg = configs::load_config(args->config, args->overrides);
    const parallel::Layout layout = parallel::make_layout(launched.world.size, launched.world.rank, cfg);
    const kernels::Device device = model::resolve_placement(cfg.train).device;
    if (launched.world.size > 1) launch::print_world_table(launched);
    parallel::ProcessGroups groups = parallel::make_groups(std::move(launched.comm), layout, device);
    parallel::arm_watchdog(groups, cfg.parallel.timeout_s);  // from here on, no collective waits forever
    trainer::Trainer t(cfg, groups);
    const trainer::RunSummary s = t.run();
    if (!s.guard_stop.empty()) {  // every rank got here together; rank 0 says why
      if (layout.rank == 0) {
        std::fflush(stdout);
        std::fprintf(stderr, "kiln: error: %s\n", s.guard_stop.c_str());
      }
      throw ExitCode{trainer::kGuardExitCode};
    }
    if (s.stopped_by_signal) {
      if (layout.rank == 0)
        std::printf("\nkiln | stopped by a signal after step %d; the checkpoint is committed, exiting with code 3\n", s.steps);
      throw ExitCode{3};
    }
    if (layout.rank != 0) return;
    std::printf("\nkiln | done: %d steps, final train loss %.4f", s.steps, s.final_loss);
    if (s.evaluated)
      std::printf(", val loss %.4f, val perplexity %.3f, val bits/byte %.4f", s.final_eval.loss,
                  s.final_eval.perplexity, s.final_eval.bits_per_byte);
    std::printf(", %.0f tokens/s\n", s.tokens_per_s);
    std::printf("kiln | run folder: %s (config.yaml, metrics.jsonl, eval.jsonl)\n", s.run_dir.c_str());
  });
}

}  // namespace tools
