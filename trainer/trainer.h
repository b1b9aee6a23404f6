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
#include "parallel/groups.h"
#include "trainer/evaluator.h"
#include "trainer/metrics.h"
#include "trainer/model.h"
#include "trainer/optimizer.h"

namespace trainer {

struct StepResult {
  double loss = 0;       // mean over the global batch
  StepStats stats;
  double lr = 0;
};

struct RunSummary {
  std::string run_dir;
  int steps = 0;
  std::vector<double> losses;  // per optimizer step, averaged over the global batch
  double final_loss = 0;
  EvalResult final_eval;
  bool evaluated = false;
  double tokens_per_s = 0;  // mean over the run, after the first step
  int resumed_from_step = -1;      // -1: started fresh
  bool stopped_by_signal = false;  // SIGTERM/SIGUSR1: a checkpoint was committed, exit code 3
};

// Device and precision after resolving "auto" (cuda when ready, else cpu; bf16 on cuda, fp32 on cpu).
struct Resolved {
  kernels::Device device = kernels::Device::kCpu;
  kernels::DType precision = kernels::DType::F32;
  bool simulated = false;  // train.device: cudasim (the CUDA kernels on the CPU simulator, host memory)
};
Resolved resolve_device_and_precision(const configs::TrainConfig& t);
// The op table a resolved device runs: the CPU's, the GPU's, or the simulated GPU's.
const kernels::Ops& ops_for(const Resolved& r);

class Trainer {
 public:
  // Validates the data against the model (vocab), allocates everything, initialises weights.
  // groups: the dp x tp process groups (null: a single process). They must outlive the trainer.
  explicit Trainer(const configs::Config& cfg, parallel::ProcessGroups* groups = nullptr);
  ~Trainer();
  // Trains to train.max_steps. stop_at_step >= 0 behaves like a stop signal agreed at that step
  // (checkpoint, then return with stopped_by_signal): what resume tests use to interrupt a run.
  RunSummary run(int stop_at_step = -1);
  StepResult train_step();
  Gpt2Model& model() { return *model_; }
  const std::string& run_dir() const { return run_dir_; }

 private:
  void print_banner() const;
  bool is_root() const { return layout_.rank == 0; }
  double average_over_dp(double x);
  // Checkpointing (trainer/checkpointing.cpp): resume per checkpoint.resume, save the current
  // step, and agree over all ranks whether any of them was asked to stop.
  void resume_if_asked();
  void save_checkpoint();
  bool stop_agreed();
  configs::Config cfg_;
  Resolved res_;
  parallel::ProcessGroups* groups_ = nullptr;
  parallel::Layout layout_;
  std::unique_ptr<kernels::OwnedTensor> scalar_;  // (1) fp32 on the device, for dp averages
  std::unique_ptr<parallel::Comm> own_world_;      // a one-rank world when no groups were given
  parallel::Comm* world_ = nullptr;
  std::string ckpt_dir_;
  std::unique_ptr<checkpoint::Saver> saver_;
  int resumed_step_ = -1, last_saved_step_ = -1;
  int accum_ = 1;
  int step_ = 0;
  int64_t tokens_ = 0;
  std::string run_dir_;
  std::unique_ptr<data::TrainLoader> loader_;
  std::unique_ptr<Gpt2Model> model_;
  std::unique_ptr<AdamW> optim_;
  std::unique_ptr<parallel::GradSync> grad_sync_;  // dp averaging, overlapped with the last backward
  std::unique_ptr<Evaluator> evaluator_;
  LossScaler scaler_;
  int skipped_ = 0;
  std::vector<int32_t> batch_;
};

}  // namespace trainer
