// trainer/trainer.h
// The training run: one step reads like the data flow (train_step), cadence lives in run().
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "configs/config.h"
#include "data/loader.h"
#include "formats/records.h"
#include "model/model.h"
#include "model/placement.h"
#include "parallel/grad_sync.h"
#include "parallel/groups.h"
#include "trainer/evaluator.h"
#include "trainer/fault_injection.h"
#include "trainer/guards.h"
#include "trainer/optimizer.h"
#include "trainer/replay_check.h"

namespace trainer {

struct StepResult {
  double loss = 0;       // mean over the global batch
  StepStats stats;
  double lr = 0;
  StepVerdict verdict = StepVerdict::kOk;  // anything else: the step was skipped (trainer/guards.h)
};

struct RunSummary {
  std::string run_dir;
  int steps = 0;
  std::vector<double> losses;  // per optimizer step, averaged over the global batch
  double final_loss = 0;
  formats::EvalResult final_eval;
  bool evaluated = false;
  double tokens_per_s = 0;  // mean over the run, after the first step
  int resumed_from_step = -1;      // -1: started fresh
  bool stopped_by_signal = false;  // SIGTERM/SIGUSR1: a checkpoint was committed, exit code 3
  std::string guard_stop;          // not empty: a numeric guard stopped the run (why), exit code 4
};

class Trainer {
 public:
  // Validates the data against the model (vocab), allocates everything, initialises weights.
  // groups: the dp x tp process groups (parallel::one_rank_groups() for a single process). They
  // must outlive the trainer.
  Trainer(const configs::Config& cfg, parallel::ProcessGroups& groups);
  ~Trainer();
  // Trains to train.max_steps. stop_at_step >= 0 behaves like a stop signal agreed at that step
  // (checkpoint, then return with stopped_by_signal): what resume tests use to interrupt a run.
  RunSummary run(int stop_at_step = -1);
  StepResult train_step();
  model::Model& model() { return *model_; }
  const std::string& run_dir() const { return run_dir_; }

 private:
  void print_banner() const;
  bool is_root() const { return layout_.rank == 0; }
  double average_over_dp(double loss, parallel::GradSquares& squares);
  // The step's one device->host read: the loss accumulated over its micro-steps and the
  // gradient's sums of squares (step_scalars_).
  double read_step_scalars(parallel::GradSquares* squares);
  // Checkpointing (trainer/checkpointing.cpp): resume per checkpoint.resume, save the current
  // step, and agree over all ranks whether any of them was asked to stop.
  void resume_if_asked();
  void save_checkpoint();
  bool stop_agreed();
  // Guards (trainer/guarding.cpp): the watchdog's step label; the replay check of the first
  // micro-batch; the report of a skipped step (for a non-finite one, the rare-path recompute that
  // names ranks and tensors); how many ranks raise a flag (one collective over the world).
  void set_phase(int step, const char* phase);
  void replay_first_micro_batch(int step, double loss);
  void report_skipped_step(int step, const StepResult& r, const data::LoaderState& before);
  std::string explain_non_finite(int step, const data::LoaderState& before);
  int count_over_world(bool flag);
  // After a step: too many skipped steps in a row, or a replay check that failed on some rank?
  // Sets guard_stop_ (the same on every rank) and says whether the run must end.
  bool guards_stop_run();
  configs::Config cfg_;
  model::Placement res_;
  parallel::ProcessGroups& groups_;
  parallel::Layout layout_;
  std::unique_ptr<kernels::OwnedTensor> scalar_;  // (2) fp32 on the device: loss, gradient health
  // 16 bytes on the device, read in one copy per step: loss_acc_ ((1) fp64, the step's loss summed
  // over its micro-steps on the device) then squares_ ((2) fp32, the gradient's sums of squares).
  kernels::Buffer step_scalars_;
  kernels::Tensor loss_acc_, squares_;
  std::string ckpt_dir_;
  std::unique_ptr<checkpoint::Saver> saver_;
  int resumed_step_ = -1, last_saved_step_ = -1;
  int accum_ = 1;
  int step_ = 0;
  int64_t tokens_ = 0;
  std::string run_dir_;
  std::unique_ptr<data::TrainLoader> loader_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<parallel::GradSync> grad_sync_;  // dp reduction (plain or ZeRO-1), the global norm
  std::unique_ptr<AdamW> optim_;                   // local: the range grad_sync_ says this rank owns
  std::unique_ptr<Evaluator> evaluator_;
  LossScaler scaler_;
  int skipped_ = 0;                    // steps skipped in this run's history (fp16 overflows included)
  NumericGuard guard_;
  std::unique_ptr<ReplayCheck> replay_;
  bool replay_failed_ = false;         // this rank's replay check failed this step
  FaultInjection faults_;              // test-only (KILN_TEST_FAULT)
  std::string guard_stop_;             // not empty: stop the run with exit 4, saying this
  std::vector<int32_t> batch_;
};

}  // namespace trainer
