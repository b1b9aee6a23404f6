// trainer/trainer.cpp
#include "trainer/trainer.h"

#include <omp.h>

#include <cstdio>
#include <filesystem>

#include "configs/load.h"
#include "configs/validate.h"
#include "kernels/check.h"
#include "kernels/cudasim/ops_cudasim.h"
#include "launch/versions.h"
#include "trainer/flops.h"
#include "parallel/comm_self.h"
#include "trainer/lr_schedule.h"
#include "trainer/signals.h"

namespace trainer {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Resolved resolve_device_and_precision(const configs::TrainConfig& t) {
  Resolved r;
  if (t.device == "cuda") r.device = kernels::Device::kCuda;
  else if (t.device == "auto") r.device = kernels::cuda_backend_ready() ? kernels::Device::kCuda : kernels::Device::kCpu;
  r.simulated = t.device == "cudasim";  // host memory (kCpu), the GPU's kernels and precision
  if (t.precision == "auto") {
    r.precision = r.device == kernels::Device::kCuda || r.simulated ? kernels::DType::BF16 : kernels::DType::F32;
  } else {
    KILN_REQUIRE_INPUT(kernels::parse_precision(t.precision, &r.precision),
                       "train.precision: expected auto, fp32, bf16 or fp16, got '" + t.precision + "'");
  }
  return r;
}

const kernels::Ops& ops_for(const Resolved& r) {
  return r.simulated ? kernels::cudasim::kOps : kernels::ops_for(r.device);
}

Trainer::Trainer(const configs::Config& cfg, parallel::ProcessGroups* groups) : cfg_(cfg), groups_(groups) {
  res_ = resolve_device_and_precision(cfg.train);
  if (groups_) layout_ = groups_->layout;
  const kernels::Ops& ops = ops_for(res_);
  accum_ = configs::accumulation_steps(cfg, layout_.dp);
  parallel::Comm* tp = groups_ ? groups_->tp.get() : nullptr;
  parallel::Comm* dp = groups_ ? groups_->dp.get() : nullptr;

  data::LoaderOptions lo;
  lo.pattern = cfg.data.train;
  lo.seq_len = cfg.model.seq_len;
  lo.micro_batch = cfg.train.micro_batch;
  lo.seed = uint64_t(cfg.run.seed);
  lo.dp_rank = layout_.dp_rank;
  lo.dp_size = layout_.dp;
  loader_ = std::make_unique<data::TrainLoader>(lo);
  const int vocab_real = loader_->vocab_size();
  KILN_REQUIRE_INPUT(cfg.model.vocab_size >= vocab_real,
                     "model.vocab_size = " + std::to_string(cfg.model.vocab_size) + " is smaller than the shards' vocab_size " +
                         std::to_string(vocab_real) + " (" + cfg.data.train + ")");
  evaluator_ = std::make_unique<Evaluator>(cfg.data.val, cfg.model.seq_len, cfg.train.micro_batch, cfg.eval.batches);

  const bool zero1 = cfg.parallel.zero == 1 && layout_.dp > 1;
  model_ = std::make_unique<Gpt2Model>(cfg.model, vocab_real, cfg.train.micro_batch, ops, res_.device,
                                       ModelPrecision{res_.precision, kernels::DType::F32}, tp,
                                       zero1 ? layout_.dp : 0);
  model_->params().init(uint64_t(cfg.run.seed), ops);
  optim_ = std::make_unique<AdamW>(cfg.optim, model_->params(), ops, OptimizerGroups{dp, tp, zero1});
  if (!zero1) grad_sync_ = std::make_unique<parallel::GradSync>(model_->params().all_grads(), dp, model_->grad_buckets());
  scalar_ = std::make_unique<kernels::OwnedTensor>(res_.device, kernels::DType::F32, kernels::Shape{1});
  scaler_ = LossScaler::for_precision(res_.precision);
  batch_.resize(size_t(cfg.train.micro_batch) * (cfg.model.seq_len + 1));

  // The run folder and its resolved config exist before step 0 (CONTRACTS §2); rank 0 writes them.
  run_dir_ = (fs::path(cfg.run.out_dir) / cfg.run.name).string();
  ckpt_dir_ = run_dir_ + "/checkpoints";
  if (groups_) {
    world_ = groups_->world.get();
  } else {
    own_world_ = std::make_unique<parallel::SelfComm>();
    world_ = own_world_.get();
  }
  if (is_root()) {
    std::error_code ec;
    fs::create_directories(ckpt_dir_, ec);
    KILN_REQUIRE_INPUT(!ec, "run.out_dir: cannot create '" + ckpt_dir_ + "': " + ec.message());
    configs::write_config(cfg, run_dir_ + "/config.yaml");
    checkpoint::clean_stale(ckpt_dir_);  // a save that was killed before its commit
  }
  world_->barrier();
  saver_ = std::make_unique<checkpoint::Saver>(ckpt_dir_, cfg.checkpoint.keep_last, *world_);
  resume_if_asked();
}

double Trainer::average_over_dp(double x) {
  if (!groups_ || layout_.dp == 1) return x;
  float v = float(x);
  kernels::device_copy(scalar_->t.data, res_.device, &v, kernels::Device::kCpu, sizeof v);
  groups_->dp->all_reduce(scalar_->t, parallel::ReduceOp::kAvg, {});
  kernels::device_copy(&v, kernels::Device::kCpu, scalar_->t.data, res_.device, sizeof v);
  return v;
}

Trainer::~Trainer() = default;

StepResult Trainer::train_step() {
  StepResult r;
  const kernels::Ops& ops = ops_for(res_);
  model_->params().zero_grads(ops);
  for (int micro = 0; micro < accum_; ++micro) {
    loader_->next(batch_);                                          // data
    r.loss += model_->forward(batch_) / accum_;                     // kernels (+ tp collectives)
    // In the last micro-step each finished bucket's dp all-reduce is queued right away.
    const bool last = micro == accum_ - 1 && grad_sync_;
    model_->backward(float(scaler_.scale / accum_),
                     last ? std::function<void(int)>([&](int k) { grad_sync_->bucket_ready(k, {}); }) : nullptr);
  }
  if (grad_sync_) grad_sync_->finish({});                           // dp: the rest of the buckets
  r.loss = average_over_dp(r.loss);                                 // report the global batch's loss
  r.lr = learning_rate(cfg_.optim, step_, cfg_.train.max_steps);
  r.stats = optim_->step(r.lr, scaler_.scale);                      // dp average + clip + AdamW
  if (!scaler_.update(r.stats.skipped)) ++skipped_;
  ++step_;
  tokens_ += int64_t(cfg_.train.global_batch) * cfg_.model.seq_len;
  return r;
}

void Trainer::print_banner() const {
  const kernels::BuildInfo b = kernels::build_info();
  const double params = double(model_->params().global_parameter_count());
  if (!is_root()) return;
  std::printf("kiln | run %s | device %s | precision %s | layout %s%s\n", run_dir_.c_str(),
              res_.simulated ? "cudasim" : kernels::device_name(res_.device), kernels::dtype_name(res_.precision),
              layout_.str().c_str(),
              cfg_.parallel.zero == 1 && layout_.dp > 1 ? " zero1" : "");
  std::printf("kiln | model gpt2 L=%d H=%d C=%d F=%d T=%d V=%d | %.2fM parameters\n", cfg_.model.n_layer,
              cfg_.model.n_head, cfg_.model.d_model, cfg_.model.d_ff, cfg_.model.seq_len, cfg_.model.vocab_size,
              params / 1e6);
  std::printf("kiln | %d tokens/step = global batch %d x seq %d | micro batch %d x %d accumulation | %lld train windows\n",
              cfg_.train.global_batch * cfg_.model.seq_len, cfg_.train.global_batch, cfg_.model.seq_len,
              cfg_.train.micro_batch, accum_, (long long)loader_->num_windows());
  if (res_.device == kernels::Device::kCuda)
    std::printf("kiln | devices: %d x %s (one per rank)\n", layout_.world, kernels::gpu_name().c_str());
  else if (res_.simulated)
    std::printf("kiln | devices: %d simulated GPU%s (kiln's CUDA kernels on the CPU simulator: slow, for debugging)\n",
                layout_.world, layout_.world > 1 ? "s" : "");
  else
    std::printf("kiln | devices: %d CPU rank%s x %d OpenMP threads\n", layout_.world, layout_.world > 1 ? "s" : "",
                omp_get_max_threads());
  std::printf("kiln | cuda %s | cudnn %s | nccl %s | mpi %s | hdf5 %s | gpus visible %d\n", b.cuda_version.c_str(),
              b.cudnn_version.c_str(), b.nccl_version.c_str(), launch::mpi_version().c_str(),
              launch::hdf5_version().c_str(), kernels::gpu_count());
  std::fflush(stdout);
}

RunSummary Trainer::run(int stop_at_step) {
  RunSummary sum;
  sum.run_dir = run_dir_;
  print_banner();
  sum.resumed_from_step = resumed_step_;
  install_stop_signal_handlers();
  std::unique_ptr<Metrics> metrics;  // rank 0 only writes and prints
  if (is_root()) metrics = std::make_unique<Metrics>(run_dir_, cfg_.train.max_steps, resumed_step_);
  const double flops_token = flops_per_token(cfg_.model);
  const double peak_flops = res_.device == kernels::Device::kCuda ? peak_bf16_flops(kernels::gpu_name()) : 0.0;
  const auto start = Clock::now();
  auto last_log = start;
  int64_t tokens_at_last_log = 0, tokens_after_first = 0;
  double time_after_first = 0;
  while (step_ < cfg_.train.max_steps) {
    const auto t0 = Clock::now();
    const StepResult r = train_step();
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (step_ > 1) {  // the first step pays for page faults and thread start-up
      tokens_after_first += int64_t(cfg_.train.global_batch) * cfg_.model.seq_len;
      time_after_first += dt;
    }
    sum.final_loss = r.loss;
    sum.losses.push_back(r.loss);
    if (metrics && (step_ % cfg_.train.log_every == 0 || step_ == cfg_.train.max_steps || step_ == 1)) {
      const auto now = Clock::now();
      const double window_s = std::chrono::duration<double>(now - last_log).count();
      TrainRecord rec;
      rec.step = step_;
      rec.tokens = tokens_;
      rec.loss = r.loss;
      rec.lr = r.lr;
      rec.grad_norm = r.stats.grad_norm;
      rec.step_time_s = dt;
      rec.tokens_per_s = window_s > 0 ? double(tokens_ - tokens_at_last_log) / window_s : 0;
      if (res_.device == kernels::Device::kCuda) {
        // tokens_per_s counts every rank's tokens, so the peak is that of all world GPUs.
        if (peak_flops > 0) rec.mfu = rec.tokens_per_s * flops_token / (peak_flops * layout_.world);
        rec.peak_mem_gib = double(kernels::gpu_peak_allocated_bytes()) / double(1ull << 30);
      }
      if (scaler_.active) rec.loss_scale = scaler_.scale;
      rec.skipped_steps = skipped_;
      metrics->log_train(rec, std::chrono::duration<double>(now - start).count());
      last_log = now;
      tokens_at_last_log = tokens_;
    }
    const bool last = step_ == cfg_.train.max_steps;
    if ((cfg_.eval.every > 0 && step_ % cfg_.eval.every == 0) || last) {
      sum.final_eval = evaluator_->run(*model_, groups_ ? groups_->dp.get() : nullptr);
      sum.evaluated = true;
      if (metrics) metrics->log_eval(step_, tokens_, sum.final_eval);
    }
    saver_->commit(/*wait=*/false);  // a background save that every rank has finished
    if (cfg_.checkpoint.every > 0 && step_ % cfg_.checkpoint.every == 0) save_checkpoint();
    if (stop_agreed() || step_ == stop_at_step) {
      if (last_saved_step_ != step_) save_checkpoint();
      sum.stopped_by_signal = true;
      break;
    }
  }
  // The end of a run (or a stop) is always checkpointed when checkpoints are on, and every save
  // is committed before returning: no run loses a checkpoint.
  if (cfg_.checkpoint.every > 0 && last_saved_step_ != step_ && step_ > 0) save_checkpoint();
  saver_->commit(/*wait=*/true);
  sum.steps = step_;
  sum.tokens_per_s = time_after_first > 0 ? double(tokens_after_first) / time_after_first : 0;
  return sum;
}

}  // namespace trainer
