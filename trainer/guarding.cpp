// trainer/guarding.cpp
// The trainer's side of the guards (trainer/guards.h, trainer/replay_check.h): labelling the
// watchdog's step, the replay check inside a step, and the rare path of a skipped step: the
// recompute that names the rank(s) and the first non-finite tensor.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/check.h"
#include "kernels/finite.h"
#include "trainer/trainer.h"

namespace trainer {

namespace {

// What one rank found when it recomputed a non-finite step (gathered over the world as fp64).
constexpr int kNothing = 0, kWeight = 1, kLoss = 2, kGradient = 3;
constexpr int kRecord = 6;  // finding, micro-batch, parameter, bad count, count, max |weight|

std::string rank_list(const std::vector<int>& ranks) {
  std::string s = ranks.size() > 1 ? "ranks " : "rank ";
  for (size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  return s;
}

}  // namespace

void Trainer::set_phase(int step, const char* phase) {
  if (groups_.watchdog) groups_.watchdog->set_step(step, phase);
}

int Trainer::count_over_world(bool flag) {
  kernels::OwnedTensor t(kernels::Device::kCpu, kernels::DType::I32, {1});
  t.t.as<int32_t>()[0] = flag ? 1 : 0;
  groups_.world->all_reduce(t.t, parallel::ReduceOp::kSum, {});
  return t.t.as<int32_t>()[0];
}

bool Trainer::guards_stop_run() {
  if (guard_.must_stop()) guard_stop_ = guard_.stop_message(step_);
  // Only on replay steps: one all-reduce, since a rank's failure is its own until told.
  if (replay_->due(step_) && count_over_world(replay_failed_) > 0)
    guard_stop_ = "training stopped at step " + std::to_string(step_) +
                  ": the replay check failed (report above; train.replay_check_every). Exit code " +
                  std::to_string(kGuardExitCode);
  return !guard_stop_.empty();
}

void Trainer::replay_first_micro_batch(int step, double loss) {
  const std::string report =
      replay_->check(step, *model_, batch_, loss, float(scaler_.scale / accum_), faults_.perturb_replay(step));
  replay_failed_ = !report.empty();
  if (replay_failed_) {
    std::fflush(stdout);
    std::fprintf(stderr, "%skiln: error: %s\n", kernels::rank_prefix().c_str(), report.c_str());
    std::fflush(stderr);
  }
}

void Trainer::report_skipped_step(int step, const StepResult& r, const data::LoaderState& before) {
  if (r.verdict == StepVerdict::kOverflow) return;  // fp16's normal business: loss_scale in metrics
  // Collective on the rare path: every rank took this branch (the verdict is the same everywhere).
  const std::string detail = r.verdict == StepVerdict::kNonFinite ? explain_non_finite(step, before) : "";
  if (!is_root()) return;
  std::fflush(stdout);
  std::fprintf(stderr, "kiln: warning: %s\n",
               guard_.describe(step, r.verdict, r.loss, r.stats.grad_norm, detail).c_str());
  std::fflush(stderr);
}

// The rare path. Every rank recomputes the step from the same data (the loader rewound to
// `before`) without the dp reduction, so each sees only its own numbers, and looks for the first
// non-finite value: in its weights, then per micro-batch in its loss and its gradients. The
// findings are gathered over the world; the text (the same on every rank) names ranks and tensors.
// Costs one more forward + backward of the step, and a host copy of the weights and gradients.
std::string Trainer::explain_non_finite(int step, const data::LoaderState& before) {
  const kernels::Ops& ops = model::ops_for(res_);
  model::ParamArena& P = model_->params();
  std::vector<double> mine(kRecord, 0.0);
  auto found = [&](int what, int micro, int param, const kernels::FiniteScan& f, int64_t count) {
    if (int(mine[0]) != kNothing) return;
    mine[0] = what, mine[1] = micro, mine[2] = param, mine[3] = double(f.bad), mine[4] = double(count);
  };
  for (int i = 0; i < P.size(); ++i) {
    const kernels::FiniteScan f = kernels::scan_finite(P.compute(i));
    mine[5] = std::max(mine[5], f.max_abs);
    if (!f.finite()) found(kWeight, -1, i, f, P.compute(i).numel());
  }
  const data::LoaderState after = loader_->state();
  loader_->restore(before);
  P.zero_grads(ops);
  for (int micro = 0; micro < accum_; ++micro) {
    loader_->next(batch_);
    double loss = model_->forward(batch_);
    model_->backward(float(scaler_.scale / accum_));
    if (micro == accum_ - 1) {  // as the step did
      faults_.after_last_backward(step, P.all_grads());
      faults_.on_local_loss(step, loss);
    }
    if (!std::isfinite(loss)) found(kLoss, micro, -1, {}, 1);
    for (int i = 0; i < P.size() && int(mine[0]) == kNothing; ++i) {
      const kernels::FiniteScan f = kernels::scan_finite(P.grad(i));
      if (!f.finite()) found(kGradient, micro, i, f, P.grad(i).numel());
    }
  }
  loader_->restore(after);

  const int n = layout_.world;
  std::vector<double> all(size_t(n) * kRecord);
  groups_.world->all_gather(Tensor{all.data(), kernels::DType::F64, kernels::Device::kCpu, {int64_t(all.size())}},
                            Tensor{mine.data(), kernels::DType::F64, kernels::Device::kCpu, {kRecord}}, {});
  std::vector<int> clean;
  std::string text;
  double max_weight = 0;
  for (int r = 0; r < n; ++r) {
    const double* rec = &all[size_t(r) * kRecord];
    max_weight = std::max(max_weight, rec[5]);
    const int what = int(rec[0]), micro = int(rec[1]), param = int(rec[2]);
    if (what == kNothing) {
      clean.push_back(r);
      continue;
    }
    text += text.empty() ? "" : "; ";
    text += "rank " + std::to_string(r) + ": ";
    const std::string of = " (" + std::to_string(int64_t(rec[3])) + " of " + std::to_string(int64_t(rec[4])) + " values)";
    const std::string in_micro = " in micro-batch " + std::to_string(micro + 1) + " of " + std::to_string(accum_);
    if (what == kWeight) text += "weight " + P.spec(param).name + " is not finite" + of;
    if (what == kLoss) text += "loss is not finite" + in_micro;
    if (what == kGradient) text += "first non-finite gradient: " + P.spec(param).name + in_micro + of;
  }
  if (text.empty())
    return "every rank is finite when the step is recomputed: a transient fault (memory or hardware?)";
  if (!clean.empty()) text += "; " + rank_list(clean) + ": finite";
  char buf[64];
  std::snprintf(buf, sizeof buf, "; largest |weight| %.3g", max_weight);
  return text + buf;
}

}  // namespace trainer
