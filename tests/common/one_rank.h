// tests/common/one_rank.h
// A process on its own, for tests that build a model, trainer or evaluator outside mpirun: one rank
// is a world of groups of one (parallel::SelfComm), as in `kiln train` without mpirun.
#pragma once

#include "parallel/comm_self.h"
#include "parallel/groups.h"

namespace kiln_test {

// A tensor-parallel (or data-parallel) group of one.
inline parallel::Comm& self_comm() {
  static parallel::SelfComm comm;
  return comm;
}

// world, dp and tp of one process on the CPU.
inline parallel::ProcessGroups& one_rank_cpu() {
  static parallel::ProcessGroups groups = parallel::one_rank_groups(kernels::Device::kCpu);
  return groups;
}

}  // namespace kiln_test
