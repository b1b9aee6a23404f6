// trainer/guards.cpp
// The verdicts of trainer/guards.h. Pure host arithmetic on numbers every rank holds identically.
#include "trainer/guards.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "kernels/finite.h"

namespace trainer {

LossSpikeDetector::LossSpikeDetector(int window) : ring_(size_t(std::max(window, 2)), 0.0) {}

double LossSpikeDetector::update(double x) {
  const int64_t n = int64_t(ring_.size());
  double z = std::numeric_limits<double>::quiet_NaN();
  if (seen_ >= n) {
    double mean = 0;
    for (double v : ring_) mean += v;
    mean /= double(n);
    double var = 0;
    for (double v : ring_) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / double(n));
    if (sd > 0) z = (x - mean) / sd;
    else z = x == mean ? 0.0 : std::copysign(std::numeric_limits<double>::infinity(), x - mean);
  }
  ring_[size_t(seen_ % n)] = x;
  ++seen_;
  return z;
}

namespace {
// printf says "-nan" for some NaNs; the messages say "nan" whatever the sign bit.
std::string num(double x) {
  if (std::isnan(x)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}
}  // namespace

NumericGuard::NumericGuard(const configs::TrainConfig& cfg)
    : max_in_row_(cfg.max_skipped_steps), z_threshold_(cfg.loss_spike_zscore), window_(cfg.loss_spike_window),
      spikes_(cfg.loss_spike_window) {}

StepVerdict NumericGuard::judge(int step, double loss, double scaled_norm, const LossScaler& scaler) {
  StepVerdict v = StepVerdict::kOk;
  z_ = std::numeric_limits<double>::quiet_NaN();
  if (std::isfinite(loss)) {
    z_ = spikes_.update(loss);
    if (!std::isfinite(scaled_norm)) {
      // Dynamic loss scaling expects overflows while the scale can still come down.
      v = scaler.active && scaler.scale > 1.0 ? StepVerdict::kOverflow : StepVerdict::kNonFinite;
    } else if (z_threshold_ > 0 && z_ > z_threshold_) {
      v = StepVerdict::kLossSpike;
    }
  } else {
    v = StepVerdict::kNonFinite;
  }
  if (v == StepVerdict::kOk) in_row_ = 0;
  if (v == StepVerdict::kNonFinite || v == StepVerdict::kLossSpike) {
    if (in_row_++ == 0) first_in_row_ = step;
  }
  return v;
}

std::string NumericGuard::describe(int step, StepVerdict v, double loss, double grad_norm,
                                   const std::string& detail) const {
  char buf[512];
  switch (v) {
    case StepVerdict::kOverflow:
      std::snprintf(buf, sizeof buf, "step %d skipped: fp16 gradients overflowed (the loss scale is halved)", step);
      break;
    case StepVerdict::kLossSpike:
      std::snprintf(buf, sizeof buf,
                    "step %d skipped: loss %.6g is %.3g standard deviations above the mean of the last %d losses "
                    "(train.loss_spike_zscore = %g)",
                    step, loss, z_, window_, z_threshold_);
      break;
    default:
      std::snprintf(buf, sizeof buf, "step %d skipped: non-finite %s (loss %s, gradient norm %s)", step,
                    std::isfinite(loss) ? "gradients" : "loss", num(loss).c_str(), num(grad_norm).c_str());
      break;
  }
  std::string s = buf;
  if (!detail.empty()) s += "; " + detail;
  if (v != StepVerdict::kOverflow && max_in_row_ > 0)
    s += " [" + std::to_string(in_row_) + " of train.max_skipped_steps = " + std::to_string(max_in_row_) + " in a row]";
  return s;
}

std::string NumericGuard::stop_message(int step) const {
  return "training stopped at step " + std::to_string(step) + ": " + std::to_string(in_row_) +
         " steps in a row were skipped (steps " + std::to_string(first_in_row_) + " to " + std::to_string(step) +
         "; non-finite loss or gradients, or loss spikes), reaching train.max_skipped_steps = " +
         std::to_string(max_in_row_) +
         ". The weights are those before step " + std::to_string(first_in_row_) +
         "; lower optim.lr, raise optim.warmup_steps, or check the data. Exit code " + std::to_string(kGuardExitCode);
}

std::string first_non_finite(const std::vector<checkpoint::Piece>& pieces) {
  const int n = int(pieces.size());
  std::vector<kernels::FiniteScan> scans(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < n; ++i)
    scans[size_t(i)] = kernels::scan_finite(pieces[size_t(i)].data, pieces[size_t(i)].dtype, pieces[size_t(i)].count);
  for (int i = 0; i < n; ++i) {
    const kernels::FiniteScan& f = scans[size_t(i)];
    if (f.finite()) continue;
    const checkpoint::Piece& p = pieces[size_t(i)];
    return p.tensor + " element " + std::to_string(p.local_begin + f.first_bad) + " is not finite (" +
           std::to_string(f.bad) + " of " + std::to_string(p.count) + " values in this rank's piece)";
  }
  return "";
}

}  // namespace trainer
