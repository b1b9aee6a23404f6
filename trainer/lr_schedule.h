// trainer/lr_schedule.h
// Learning rate as a function of the optimizer step (0-based step being taken).
//   warmup: lr * (step+1) / warmup_steps for step < warmup_steps (never exactly 0 on step 0)
//   then, over the remaining steps up to max_steps:
//     cosine   min_lr + (lr - min_lr) * 0.5 * (1 + cos(pi * progress))
//     linear   lr + (min_lr - lr) * progress
//     constant lr
#pragma once

#include "configs/config.h"

namespace trainer {

double learning_rate(const configs::OptimConfig& o, int step, int max_steps);

}  // namespace trainer
