// tools/cmd_sample.cpp
// `kiln sample --checkpoint PATH --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K]
// [--top-p P] [--seed S]`: generate text with a KV cache (trainer/generator.h), streaming each
// token's bytes to stdout as soon as it is chosen. stdout holds the prompt followed by the
// generated text and nothing else (CONTRACTS §6); diagnostics go to stderr.
//
// Generation stops after max-new-tokens or at the tokenizer's end-of-text id (not printed). The
// model's context ends at seq_len (learned positions): when it is full, the cache is rebuilt from
// the last seq_len/2 tokens and generation goes on, as a sliding window would.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "kernels/check.h"
#include "tools/checkpoint_options.h"
#include "tools/commands.h"
#include "inference/generator.h"
#include "inference/sampler.h"
#include "inference/trained_checkpoint.h"
#include "model/placement.h"
#include "parallel/comm_self.h"

namespace tools {

namespace {
struct SampleArgs {
  std::string checkpoint, prompt, device = "auto", precision = "auto";
  int max_new_tokens = 256;
  inference::SamplingOptions sampling;
};

void write_bytes(const std::string& bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);  // stream: the reader sees each token as it is made
}

void run_sample(const SampleArgs& a) {
  const inference::TrainedCheckpoint ckpt = inference::open_checkpoint(a.checkpoint);
  configs::TrainConfig tc = ckpt.config.train;
  tc.device = a.device;
  tc.precision = a.precision;
  const model::Placement res = model::resolve_placement(tc);
  const data::Tokenizer& tok = *ckpt.tokenizer;
  const int eot = tok.eot_token();

  std::vector<int32_t> ids;
  for (uint32_t id : tok.encode(a.prompt)) ids.push_back(int32_t(id));
  if (ids.empty()) {
    // Without a prompt the model starts as it starts a document: after an end-of-text token.
    KILN_REQUIRE_INPUT(eot >= 0, "--prompt: empty, and tokenizer " + tok.name() +
                                     " has no end-of-text token to start from; give some text");
    ids.push_back(eot);
  }
  const int T = ckpt.config.model.seq_len;
  if (int(ids.size()) > T)  // generate() keeps the last T
    std::fprintf(stderr, "kiln sample: the prompt is %zu tokens; the model sees its last %d (seq_len)\n", ids.size(), T);

  parallel::SelfComm no_tp;  // one sequence, the whole model on this process
  auto model = inference::load_model(ckpt, /*micro_batch=*/1, res.device, res.precision, no_tp);
  inference::Generator gen(ckpt.config.model, model->params(), ckpt.vocab_real(), kernels::ops_for(res.device));
  std::fprintf(stderr, "kiln sample | %s (step %lld) | %s %s | temperature %g top-k %d top-p %g seed %llu\n",
               ckpt.dir.c_str(), (long long)ckpt.manifest.state.step, kernels::device_name(res.device),
               kernels::dtype_name(res.precision), a.sampling.temperature, a.sampling.top_k, a.sampling.top_p,
               (unsigned long long)a.sampling.seed);

  write_bytes(a.prompt);
  const auto start = std::chrono::steady_clock::now();
  int made = 0;
  try {
    made = inference::generate(
        gen, ids, a.sampling, a.max_new_tokens, eot, [&](int32_t id) { write_bytes(tok.decode({uint32_t(id)})); },
        [&] { std::fprintf(stderr, "\nkiln sample: context of %d tokens is full; continuing from the last %d\n", T,
                                  inference::tokens_kept_on_rebuild(T)); });
  } catch (const kernels::InputError& e) {  // non-finite logits: say which checkpoint
    std::fputc('\n', stdout);
    throw kernels::InputError("checkpoint " + ckpt.dir + ": " + e.what());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "\nkiln sample | %d new tokens in %.2f s (%.1f tokens/s)\n", made, s, s > 0 ? made / s : 0.0);
}
}  // namespace

void add_sample_command(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  CLI::App* cmd = app.add_subcommand("sample", "Generate text from a checkpoint (KV cache), streamed to stdout.");
  add_checkpoint_option(cmd, args->checkpoint);
  cmd->add_option("--prompt", args->prompt, "text to continue (empty: start after an end-of-text token)")->required();
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "stop after this many new tokens (default 256)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", args->sampling.temperature, "0 = greedy (deterministic), default 1")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-k", args->sampling.top_k, "sample among the K most probable tokens (0 = all, default)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", args->sampling.top_p, "nucleus: the most probable tokens holding mass P (default 1 = all)")
      ->check(CLI::Range(0.0, 1.0).description("in (0, 1]"));
  cmd->add_option("--seed", args->sampling.seed, "random seed; the same seed gives the same text (default 1337)");
  add_device_options(cmd, args->device, args->precision);
  cmd->footer("stdout: the prompt followed by the generated text, nothing else; diagnostics go to stderr.\n"
              "Stops at --max-new-tokens or at the tokenizer's end-of-text token.");
  cmd->callback([args] {
    KILN_REQUIRE_INPUT(args->sampling.top_p > 0, "--top-p: must be in (0, 1], got " + std::to_string(args->sampling.top_p));
    run_sample(*args);
  });
}

}  // namespace tools
