// trainer/trainer.cpp
#include "trainer/trainer.h"

#include <omp.h>

#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "configs/load.h"
#include "configs/validate.h"
#include "formats/metrics.h"
#include "kernels/check.h"
#include "launch/versions.h"
#include "model/flops.h"
#include "model/memory_estimate.h"
#include "trainer/lr_schedule.h"
#include "trainer/signals.h"

namespace trainer {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Trainer::Trainer(const configs::Config& cfg, parallel::ProcessGroups& groups)
    : cfg_(cfg), groups_(groups), layout_(groups.layout), guard_(cfg.train),
      faults_(FaultInjection::from_env(groups.layout.rank)) {
  res_ = model::resolve_placement(cfg.train);
  const kernels::Ops& ops = model::ops_for(res_);
  accum_ = configs::accumulation_steps(cfg, layout_.dp);
  const bool zero1 = cfg.parallel.zero == 1 && layout_.dp > 1;
  // Every size is checked against int64 and the memory available before anything is allocated.
  model::require_memory({cfg.model, cfg.train.micro_batch, layout_.tp, zero1 ? layout_.dp : 0, res_.precision,
                         kernels::DType::F32, /*checkpoint_staging=*/true, res_.device});

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

  model_ = model::make_model(cfg.model, vocab_real, cfg.train.micro_batch, ops, res_.device,
                              model::ModelPrecision{res_.precision, kernels::DType::F32}, *groups_.tp,
                              zero1 ? layout_.dp : 0);
  model_->params().init(uint64_t(cfg.run.seed), ops);
  grad_sync_ = std::make_unique<parallel::GradSync>(model_->params().all_grads(), groups_, model_->grad_buckets(), zero1);
  optim_ = std::make_unique<AdamW>(cfg.optim, model_->params(), ops, grad_sync_->owned());
  scalar_ = std::make_unique<kernels::OwnedTensor>(res_.device, kernels::DType::F32, kernels::Shape{2});
  step_scalars_ = kernels::Buffer(res_.device, 16);
  loss_acc_ = step_scalars_.view(kernels::DType::F64, {1});
  squares_ = step_scalars_.view(kernels::DType::F32, {2}, 8);
  scaler_ = LossScaler::for_precision(res_.precision);
  replay_ = std::make_unique<ReplayCheck>(cfg.train.replay_check_every, ops, res_.device);
  batch_.resize(size_t(cfg.train.micro_batch) * (cfg.model.seq_len + 1));

  // The run folder and its resolved config exist before step 0 (CONTRACTS §2); rank 0 writes them.
  run_dir_ = (fs::path(cfg.run.out_dir) / cfg.run.name).string();
  ckpt_dir_ = run_dir_ + "/checkpoints";
  if (is_root()) {
    std::error_code ec;
    fs::create_directories(ckpt_dir_, ec);
    KILN_REQUIRE_INPUT(!ec, "run.out_dir: cannot create '" + ckpt_dir_ + "': " + ec.message());
    configs::write_config(cfg, run_dir_ + "/config.yaml");
    checkpoint::clean_stale(ckpt_dir_);  // a save that was killed before its commit
  }
  groups_.world->barrier();
  saver_ = std::make_unique<checkpoint::Saver>(ckpt_dir_, cfg.checkpoint.keep_last, *groups_.world);
  resume_if_asked();
}

// One all-reduce over dp of two floats: the loss (averaged) and this rank's gradient health (0, or
// NaN when its squares are not finite). A rank that hears of a non-finite gradient anywhere in
// its dp group poisons its own squares, so the norm's reduction over tp carries the news on:
// every rank of the world then sees a non-finite norm and skips the same step, even when the
// fault struck one rank after the gradients were reduced (trainer/guards.h).
double Trainer::average_over_dp(double loss, parallel::GradSquares& sq) {
  const bool finite = std::isfinite(sq.sharded) && std::isfinite(sq.replicated);
  if (layout_.dp == 1) return loss;
  float v[2] = {float(loss), finite ? 0.f : std::numeric_limits<float>::quiet_NaN()};
  kernels::copy_from_host(scalar_->t.data, res_.device, v, sizeof v);
  groups_.dp->all_reduce(scalar_->t, parallel::ReduceOp::kAvg, {});
  kernels::copy_to_host(v, scalar_->t.data, res_.device, sizeof v);
  if (!std::isfinite(v[1])) sq.sharded = sq.replicated = std::numeric_limits<float>::quiet_NaN();
  return v[0];
}

double Trainer::read_step_scalars(parallel::GradSquares* squares) {
  unsigned char host[16];
  kernels::copy_to_host(host, step_scalars_.data(), res_.device, sizeof host);
  double loss = 0;
  float sq[2] = {0, 0};
  std::memcpy(&loss, host, sizeof loss);
  std::memcpy(sq, host + 8, sizeof sq);
  *squares = {sq[0], sq[1]};
  return loss;
}

Trainer::~Trainer() = default;

StepResult Trainer::train_step() {
  StepResult r;
  const int step = step_ + 1;
  set_phase(step, "train");
  faults_.at_step_start(step);                                        // test hooks (KILN_TEST_FAULT)
  model::ParamArena& params = model_->params();
  const kernels::Ops& ops = model::ops_for(res_);
  params.zero_grads(ops);
  ops.zero(loss_acc_, {});
  const data::LoaderState before = loader_->state();                  // for a skipped step's recompute
  const bool replay = replay_->due(step);
  const auto bucket_ready = [&](int k) { grad_sync_->bucket_ready(k, {}); };
  for (int micro = 0; micro < accum_; ++micro) {
    loader_->next(batch_);                                            // data
    model_->forward_accumulate(batch_, loss_acc_, accum_);            // kernels (+ tp); the loss stays on the device
    const double replay_loss = replay && micro == 0 ? model_->last_loss() : 0.0;  // rare path: a read
    // In the last micro-step each finished bucket's dp reduction is queued right away, unless the
    // replay check must first see this rank's own gradients.
    const bool hooks = micro == accum_ - 1 && !(replay && micro == 0);
    model_->backward(float(scaler_.scale / accum_), hooks ? std::function<void(int)>(bucket_ready) : nullptr);
    if (replay && micro == 0) replay_first_micro_batch(step, replay_loss);  // the same bits again?
  }
  faults_.after_last_backward(step, params.all_grads());              // test hooks
  grad_sync_->finish({});                                             // dp: the rest (ZeRO-1: reduce-scatter)
  const Tensor grads = grad_sync_->owned_grads();                     // what this rank updates
  optim_->sum_squares_into(grads, squares_);                          // this rank's share of the norm
  parallel::GradSquares squares;
  r.loss = read_step_scalars(&squares);                               // the step's one read: loss + squares
  faults_.on_local_loss(step, r.loss);                                // test hooks
  r.loss = average_over_dp(r.loss, squares);                          // the global batch's loss (+ grad health)
  r.lr = learning_rate(cfg_.optim, step_, cfg_.train.max_steps);
  const double norm = grad_sync_->global_norm(squares);               // over tp (+ ZeRO blocks)
  r.verdict = guard_.judge(step, r.loss, norm, scaler_);              // finite? fp16 overflow? spike?
  if (r.verdict == StepVerdict::kOk) r.stats = optim_->step(grads, r.lr, norm, scaler_.scale);  // clip + AdamW
  else r.stats = {norm / scaler_.scale, /*skipped=*/true};
  if (!r.stats.skipped) grad_sync_->gather_params(params.all_compute(), {});  // ZeRO-1: all-gather
  if (r.stats.skipped) report_skipped_step(step, r, before);          // names ranks + tensor (rare path)
  scaler_.update(!std::isfinite(norm));                               // fp16: halve on overflow
  skipped_ += r.stats.skipped ? 1 : 0;
  ++step_;
  tokens_ += int64_t(cfg_.train.global_batch) * cfg_.model.seq_len;
  return r;
}

void Trainer::print_banner() const {
  const kernels::BuildInfo b = kernels::build_info();
  const double params = double(model_->params().global_parameter_count());
  if (!is_root()) return;
  std::printf("kiln | run %s | device %s | precision %s | layout %s%s\n", run_dir_.c_str(),
              model::placement_name(res_), kernels::dtype_name(res_.precision), layout_.str().c_str(),
              cfg_.parallel.zero == 1 && layout_.dp > 1 ? " zero1" : "");
  const configs::ModelConfig& m = cfg_.model;
  const std::string kv = m.is_llama() ? " KV=" + std::to_string(m.kv_heads()) : "";
  std::printf("kiln | model %s L=%d H=%d%s C=%d F=%d T=%d V=%d%s | %.2fM parameters\n", m.arch.c_str(), m.n_layer,
              m.n_head, kv.c_str(), m.d_model, m.d_ff, m.seq_len, m.vocab_size, m.tied() ? " tied" : "", params / 1e6);
  std::printf("kiln | %lld tokens/step = global batch %d x seq %d | micro batch %d x %d accumulation | %lld train windows\n",
              (long long)cfg_.train.global_batch * cfg_.model.seq_len, cfg_.train.global_batch, cfg_.model.seq_len,
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
  std::unique_ptr<formats::Metrics> metrics;  // rank 0 only writes and prints
  if (is_root()) metrics = std::make_unique<formats::Metrics>(run_dir_, cfg_.train.max_steps, resumed_step_);
  const double flops_token = model::flops_per_token(cfg_.model);
  const double peak_flops = res_.device == kernels::Device::kCuda ? model::peak_bf16_flops(kernels::gpu_name()) : 0.0;
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
      formats::TrainRecord rec;
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
    if (guards_stop_run()) break;  // exit 4, without evaluating or checkpointing this state
    const bool last = step_ == cfg_.train.max_steps;
    if ((cfg_.eval.every > 0 && step_ % cfg_.eval.every == 0) || last) {
      set_phase(step_, "eval");
      sum.final_eval = evaluator_->run(*model_, *groups_.dp);
      sum.evaluated = true;
      if (metrics) metrics->log_eval(step_, tokens_, sum.final_eval);
    }
    set_phase(step_, "checkpoint");
    saver_->commit(/*wait=*/false);  // a background save that every rank has finished
    if (cfg_.checkpoint.every > 0 && step_ % cfg_.checkpoint.every == 0) save_checkpoint();
    if (!guard_stop_.empty()) break;  // the weights hold non-finite values: nothing was saved
    if (stop_agreed() || step_ == stop_at_step) {
      if (last_saved_step_ != step_) save_checkpoint();
      sum.stopped_by_signal = true;
      break;
    }
  }
  // The end of a run (or a stop) is always checkpointed (checkpoint.every: 0 means only this one),
  // unless a numeric guard stopped it; every save is committed before returning: no run loses a
  // checkpoint.
  if (last_saved_step_ != step_ && step_ > 0 && guard_stop_.empty()) save_checkpoint();
  set_phase(step_, "shutdown");
  saver_->commit(/*wait=*/true);
  sum.steps = step_;
  sum.guard_stop = guard_stop_;
  sum.tokens_per_s = time_after_first > 0 ? double(tokens_after_first) / time_after_first : 0;
  return sum;
}

}  // namespace trainer
