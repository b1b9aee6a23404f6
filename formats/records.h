// formats/records.h
// The numbers a run reports, as plain records: one per logged training step (metrics.jsonl,
// train/* scalars) and one per evaluation (eval.jsonl, val/* scalars; also `kiln eval`'s JSON).
// Filled by the run loop and the evaluator, written by formats/metrics.h (CONTRACTS §3).
#pragma once

#include <cstdint>
#include <optional>

namespace formats {

struct TrainRecord {
  int step = 0;             // optimizer steps completed
  int64_t tokens = 0;       // tokens consumed so far (all ranks)
  double loss = 0, lr = 0, grad_norm = 0;
  double step_time_s = 0, tokens_per_s = 0;
  std::optional<double> mfu;          // absent when the device has no known peak (CPU)
  std::optional<double> loss_scale;   // fp16 only
  int skipped_steps = 0;
  std::optional<double> peak_mem_gib; // peak device memory (GPU); absent on the CPU
};

// Held-out loss, perplexity and bits per byte (CONTRACTS §3).
//   loss       mean next-token cross-entropy in nats over the evaluated targets
//   perplexity exp(loss)
//   bits/byte  (sum of nats) / (ln 2 * bytes of text the target tokens stand for)
struct EvalResult {
  double loss = 0, perplexity = 0, bits_per_byte = 0;
  int64_t tokens = 0;  // targets evaluated
};

// Pure arithmetic behind EvalResult, separate so tests can feed known numbers.
EvalResult summarize_eval(double sum_nats, int64_t tokens, int64_t bytes);

}  // namespace formats
