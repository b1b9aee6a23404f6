// formats/metrics.h
// Where numbers go: one readable console line per log step, metrics.jsonl and eval.jsonl in the run
// folder (CONTRACTS §3), and the same values as TensorBoard scalars (train/<field>, val/<field>) in
// an events.out.tfevents.* file there. Files are appended and flushed at every write so a crash
// loses nothing already reported.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "formats/records.h"
#include "formats/tensorboard.h"

namespace formats {

class Metrics {
 public:
  // Opens the two .jsonl files and a new event file in run_dir. Only rank 0 should construct one.
  // A fresh run (resumed_step < 0) truncates the .jsonl files and removes older event files; a
  // resumed one keeps the lines up to resumed_step and drops those past it (written after that
  // checkpoint by the run that stopped), so each step appears once. Event files cannot be edited in
  // place, so TensorBoard is told instead (see the constructor).
  Metrics(const std::string& run_dir, int max_steps, int resumed_step = -1);
  void log_train(const TrainRecord& r, double elapsed_s);
  void log_eval(int step, int64_t tokens, const EvalResult& e);

 private:
  int max_steps_;
  std::ofstream train_, eval_;
  std::unique_ptr<EventFileWriter> events_;
};

// "01:02:03" for seconds.
std::string format_duration(double seconds);

}  // namespace formats
