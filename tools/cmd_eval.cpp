// tools/cmd_eval.cpp
// `kiln eval --checkpoint PATH --data GLOB [--batches N]`: held-out loss, perplexity and bits per
// byte of a checkpoint on token shards (CONTRACTS §1, §6), one JSON object on the last line.
//
// Under mpirun the ranks form dp x tp like training (`--tp`), each dp rank evaluates every dp-th
// micro-batch and the sums are all-reduced, so the numbers are those of one rank. The windows are
// the evaluator's: consecutive, non-overlapping seq_len+1 tokens from the start of the shards.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "inference/trained_checkpoint.h"
#include "kernels/check.h"
#include "model/placement.h"
#include "parallel/groups.h"
#include "parallel/layout.h"
#include "tools/checkpoint_options.h"
#include "tools/commands.h"
#include "tools/ranks.h"
#include "trainer/evaluator.h"

namespace tools {

namespace {
struct EvalArgs {
  std::string checkpoint, data, device = "auto", precision = "auto";
  int batches = -1, micro_batch = 0, tp = 1;
};

void run_eval(const EvalArgs& a) {
  launch::Launched launched = start_ranks();
  inference::TrainedCheckpoint ckpt = inference::open_checkpoint(a.checkpoint);
  configs::Config cfg = ckpt.config;
  cfg.train.device = a.device;
  cfg.train.precision = a.precision;
  if (a.micro_batch > 0) cfg.train.micro_batch = a.micro_batch;
  cfg.parallel.tp = a.tp;
  cfg.parallel.zero = 0;
  const parallel::Layout layout = parallel::make_layout(launched.world.size, launched.world.rank, cfg);
  const model::Placement res = model::resolve_placement(cfg.train);

  // A model scored on text tokenized differently measures nothing: refuse, naming both.
  const std::string data_tok_dir = data::shard_tokenizer_dir(a.data);
  KILN_REQUIRE_INPUT(!data_tok_dir.empty(), "--data: no shard matches '" + a.data +
                                                "', or there is no tokenizer/ folder beside them (kiln prepare writes one)");
  const std::string data_tok = data::load_tokenizer(data_tok_dir)->fingerprint();
  KILN_REQUIRE_INPUT(data_tok == ckpt.tokenizer->fingerprint(),
                     "--data: shards '" + a.data + "' were tokenized with " + data_tok + ", the checkpoint " +
                         ckpt.dir + " with " + ckpt.tokenizer->fingerprint());
  const trainer::Evaluator evaluator(a.data, cfg.model.seq_len, cfg.train.micro_batch, a.batches);

  parallel::ProcessGroups groups = parallel::make_groups(std::move(launched.comm), layout, res.device);
  parallel::arm_watchdog(groups, cfg.parallel.timeout_s);  // the checkpoint's, or the default
  auto model = inference::load_model(ckpt, cfg.train.micro_batch, res.device, res.precision, *groups.tp);
  const formats::EvalResult r = evaluator.run(*model, *groups.dp);
  // The same on every rank (all-reduced): all of them refuse together.
  KILN_REQUIRE_INPUT(std::isfinite(r.loss), "checkpoint " + ckpt.dir + ": the loss on '" + a.data +
                                                "' is not finite: its weights overflow the forward pass");
  if (layout.rank != 0) return;
  std::printf("kiln eval | %s (step %lld) on %s | %lld sequences of %d tokens | %s %s | layout %s\n",
              ckpt.dir.c_str(), (long long)ckpt.manifest.state.step, a.data.c_str(),
              (long long)evaluator.sequences(), cfg.model.seq_len, kernels::device_name(res.device),
              kernels::dtype_name(res.precision), layout.str().c_str());
  std::printf("loss %.6f | perplexity %.4f | bits per byte %.6f\n", r.loss, r.perplexity, r.bits_per_byte);
  const nlohmann::ordered_json j = {{"loss", r.loss},          {"perplexity", r.perplexity},
                                    {"bits_per_byte", r.bits_per_byte}, {"tokens", r.tokens},
                                    {"sequences", evaluator.sequences()}, {"step", ckpt.manifest.state.step},
                                    {"checkpoint", ckpt.dir}};
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Held-out loss, perplexity and bits per byte of a checkpoint.");
  add_checkpoint_option(cmd, args->checkpoint);
  cmd->add_option("--data", args->data, "token shard glob, e.g. 'data/x/val_*.h5' (same tokenizer as the checkpoint)")
      ->required();
  cmd->add_option("--batches", args->batches,
                  "evaluate at most N micro-batches of windows (default: every window of the shards)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--micro-batch", args->micro_batch, "sequences per forward pass (default: the run's train.micro_batch)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tp", args->tp, "tensor-parallel degree under mpirun (dp = ranks / tp)")->check(CLI::PositiveNumber);
  add_device_options(cmd, args->device, args->precision);
  cmd->footer("Last line of stdout: {\"loss\":..,\"perplexity\":..,\"bits_per_byte\":..,\"tokens\":..,...}.\n"
              "Windows: consecutive, non-overlapping seq_len+1 tokens from the start of the shards.");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace tools
