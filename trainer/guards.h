// trainer/guards.h
// The numeric guards of a training step: what decides that a step is skipped, and when skipping
// has gone on long enough to stop the run (exit 4, kGuardExitCode).
//
// Detection costs no extra sync: it reads two numbers every rank already holds on the host, the
// same on every rank, so every rank takes the same branch without another collective:
//   - the loss, averaged over dp (a NaN/Inf on any rank makes the average non-finite);
//   - the global gradient norm, computed from the dp-averaged (or ZeRO-1 reduce-scattered)
//     gradients and summed over tp (a NaN/Inf in any gradient of any rank propagates into it).
//     The loss's dp average also carries each rank's gradient health (a second float), and a rank
//     told of a non-finite gradient poisons its squares before the tp sum: so even a fault that
//     strikes one rank after the reduction reaches every rank's norm (Trainer::average_over_dp).
// Verdicts:
//   kOk         update as usual
//   kOverflow   fp16 only: finite loss, non-finite gradients, loss scale still above 1. Expected
//               with dynamic loss scaling: the scaler halves the scale, the step is skipped, and it
//               neither counts toward train.max_skipped_steps nor resets the count. At scale 1
//               halving cannot help, so the same step is a kNonFinite fault: a run stuck in fp16
//               overflow stops after at most 16 halvings + max_skipped_steps steps.
//   kNonFinite  a fault: loss or gradients not finite. Skipped; the trainer then recomputes the
//               step on every rank (the rare path) to name the rank(s) and the first non-finite
//               tensor (trainer/guarding.cpp).
//   kLossSpike  train.loss_spike_zscore > 0 and the loss is that many standard deviations above
//               the mean of the last train.loss_spike_window losses (llm.c's outlier detector).
//               Skipped; counts like a fault. Every finite loss enters the window, spikes too, so
//               a lasting jump in the loss is absorbed instead of skipped forever.
// train.max_skipped_steps faults in a row stop the run (0: never). The count and the spike window
// are not checkpointed: a resumed run starts them afresh.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "configs/config.h"
#include "trainer/optimizer.h"

namespace trainer {

// The exit status of a run stopped by a guard (README, "Exit codes").
constexpr int kGuardExitCode = 4;

enum class StepVerdict { kOk, kOverflow, kNonFinite, kLossSpike };

// z-score of each new loss against the window of losses before it.
class LossSpikeDetector {
 public:
  explicit LossSpikeDetector(int window);
  // The z-score of x against the last `window` values (NaN until that many were seen), then adds x.
  double update(double x);

 private:
  std::vector<double> ring_;
  int64_t seen_ = 0;
};

class NumericGuard {
 public:
  explicit NumericGuard(const configs::TrainConfig& cfg);

  // loss: the global batch's loss; scaled_norm: the global gradient norm as computed (carrying
  // the loss scale). Identical on every rank, so the verdict is too. Updates the count of faults
  // in a row and the spike window.
  StepVerdict judge(int step, double loss, double scaled_norm, const LossScaler& scaler);
  // The last judge()'s z-score (NaN when none) and faults in a row.
  double zscore() const { return z_; }
  int faults_in_row() const { return in_row_; }
  // True when the faults in a row reached train.max_skipped_steps.
  bool must_stop() const { return max_in_row_ > 0 && in_row_ >= max_in_row_; }
  // One line for a skipped step (rank 0 prints it), e.g. "step 57 skipped: loss 7.9 is 6.3 standard
  // deviations above ...". `detail` (which rank, which tensor) is appended when not empty.
  std::string describe(int step, StepVerdict v, double loss, double grad_norm, const std::string& detail) const;
  // The message the run stops with.
  std::string stop_message(int step) const;

 private:
  int max_in_row_;
  double z_threshold_;
  int window_;
  LossSpikeDetector spikes_;
  double z_ = 0;
  int in_row_ = 0;
  int first_in_row_ = 0;  // step of the first fault of the current run of faults
};

// The check before a checkpoint is written: "<tensor> element <i> is nan (and N more ...)" for the
// first piece holding a NaN or infinity, or "" when every value is finite. Scans host memory (the
// pieces' staging copies), pieces in parallel.
std::string first_non_finite(const std::vector<checkpoint::Piece>& pieces);

}  // namespace trainer
