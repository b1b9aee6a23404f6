// parallel/groups.h
// The process groups of a dp x tp run, made once at start-up and passed in (STYLE E10).
//
// Rank layout (Megatron's): tensor-parallel ranks are adjacent, so a tp group sits on one node when
// tp <= GPUs per node:   world rank = dp_rank * tp + tp_rank.
//   tp group: the tp ranks with the same dp_rank  (partial sums, vocab-parallel softmax)
//   dp group: the dp ranks with the same tp_rank  (gradient averaging, ZeRO shards)
#pragma once

#include <memory>

#include "kernels/device.h"
#include "parallel/comm.h"
#include "parallel/layout.h"
#include "parallel/watchdog.h"

namespace parallel {

struct ProcessGroups {
  Layout layout;
  std::unique_ptr<Comm> world, dp, tp;
  std::shared_ptr<Watchdog> watchdog;  // null until arm_watchdog (parallel/watchdog.h), or unarmed
};

// Builds the groups over `world` (size must equal layout.world). With device == kCuda and NCCL
// built, dp and tp move device memory through NCCL (bootstrapped over MPI); otherwise MPI, or the
// single-rank "self" backend when the world has one rank.
ProcessGroups make_groups(std::unique_ptr<Comm> world, const Layout& layout, kernels::Device device);

// One process on its own: world, dp and tp are groups of one (SelfComm). What a plain `kiln train`,
// eval, sample and the tests use; code never asks whether groups exist.
ProcessGroups one_rank_groups(kernels::Device device);

}  // namespace parallel
