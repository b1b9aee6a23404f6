// plot/run_data.h
// One run folder's curves, read from the files `kiln train` writes (CONTRACTS §3): metrics.jsonl
// (one object per logged step) and eval.jsonl (one object per evaluation).
//
// Called by tools/cmd_plot.cpp and tests; the figure code only sees RunData. Reading is strict
// about what it needs (step, tokens, loss; step, tokens, val_loss) and ignores every other field,
// so new metrics never break plotting. Problems are kernels::InputError naming the path (and the
// line number for a bad line).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace plot {

struct TrainPoint {
  int64_t step = 0;
  int64_t tokens = 0;
  double loss = 0;  // mean next-token cross-entropy, nats; NaN where the trainer logged null (non-finite)
};

struct EvalPoint {
  int64_t step = 0;
  int64_t tokens = 0;
  double val_loss = 0;        // nats
  double val_perplexity = 0;  // exp(val_loss); taken from the file when present
};

struct RunData {
  std::string dir;    // as given on the command line
  std::string label;  // legend name: the folder name, or more of the path when names clash (label_runs)
  std::vector<TrainPoint> train;  // file order (= step order: a resume drops lines past its step)
  std::vector<EvalPoint> eval;    // empty when the run has no eval.jsonl or never evaluated
};

// Reads DIR/metrics.jsonl (required, at least one point) and DIR/eval.jsonl (optional). The label
// is the folder name; call label_runs when plotting several runs. A last line without its newline
// that does not parse is skipped: the trainer is writing it right now.
RunData read_run(const std::string& dir);

// Gives each run the shortest path suffix (folder name, then parent/name, ...) that no other run
// shares, so `a/tiny` and `b/tiny` are told apart while distinct names stay short.
void label_runs(std::vector<RunData>& runs);

}  // namespace plot
