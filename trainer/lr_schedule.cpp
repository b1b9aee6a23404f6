// trainer/lr_schedule.cpp
#include "trainer/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace trainer {

double learning_rate(const configs::OptimConfig& o, int step, int max_steps) {
  if (step < o.warmup_steps) return o.lr * double(step + 1) / double(o.warmup_steps);
  if (o.schedule == "constant") return o.lr;
  const int decay_steps = std::max(1, max_steps - o.warmup_steps);
  const double progress = std::clamp(double(step - o.warmup_steps) / double(decay_steps), 0.0, 1.0);
  if (o.schedule == "linear") return o.lr + (o.min_lr - o.lr) * progress;
  return o.min_lr + (o.lr - o.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace trainer
