// trainer/metrics.h
// Where numbers go: one readable console line per log step, metrics.jsonl and eval.jsonl in the run
// folder (CONTRACTS §3). Files are appended and flushed at every write so a crash loses nothing
// already reported.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

#include "trainer/evaluator.h"

namespace trainer {

struct TrainRecord {
  int step = 0;             // optimizer steps completed
  int64_t tokens = 0;       // tokens consumed so far (all ranks)
  double loss = 0, lr = 0, grad_norm = 0;
  double step_time_s = 0, tokens_per_s = 0;
  std::optional<double> mfu;          // absent when the device has no known peak (CPU)
  std::optional<double> loss_scale;   // fp16 only
  int skipped_steps = 0;
};

class Metrics {
 public:
  // Opens the two .jsonl files in run_dir. Only rank 0 should construct one. A fresh run
  // (resumed_step < 0) truncates them; a resumed one keeps the lines up to resumed_step and drops
  // those past it (written after that checkpoint by the run that stopped), so each step appears once.
  Metrics(const std::string& run_dir, int max_steps, int resumed_step = -1);
  void log_train(const TrainRecord& r, double elapsed_s);
  void log_eval(int step, int64_t tokens, const EvalResult& e);

 private:
  int max_steps_;
  std::ofstream train_, eval_;
};

// "01:02:03" for seconds.
std::string format_duration(double seconds);

}  // namespace trainer
