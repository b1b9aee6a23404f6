// tests/parallel/watchdog_probe.cpp
// A tiny program for the collective watchdog under mpirun (parallel/watchdog.h), started with MPI
// by launch::discover like `kiln train`, groups made by make_groups (dp = world, tp = 1) and armed
// with arm_watchdog(TIMEOUT):
//   watchdog_probe stall TIMEOUT    rank 1 sleeps 600 s; the others wait for it in a dp all_reduce
//   watchdog_probe diverge TIMEOUT  rank 0 skips a dp all_reduce and enters a world barrier
//   watchdog_probe ok TIMEOUT       every rank does the same collectives: sums right, exit 0
// The first two must end the job with exit 5 and a report; tests/parallel/test_watchdog.cpp runs
// them and checks the message and the time taken.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/check.h"
#include "launch/world.h"
#include "parallel/groups.h"
#include "parallel/watchdog.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: watchdog_probe stall|diverge|ok TIMEOUT_S\n");
    return 2;
  }
  const std::string mode = argv[1];
  launch::Launched l = launch::discover();
  parallel::Layout layout;
  layout.world = layout.dp = l.world.size;
  layout.rank = layout.dp_rank = l.world.rank;
  parallel::ProcessGroups g = parallel::make_groups(std::move(l.comm), layout, kernels::Device::kCpu);
  parallel::arm_watchdog(g, std::atof(argv[2]));
  if (g.watchdog) g.watchdog->set_step(7, "probe");

  int value = layout.rank + 1;
  kernels::Tensor t{&value, kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{1}};
  g.dp->all_reduce(t, parallel::ReduceOp::kSum, parallel::Stream::host());  // #1: everyone arrives
  value = layout.rank + 1;
  if (mode == "stall" && layout.rank == 1) sleep(600);
  if (mode == "diverge" && layout.rank == 0) g.world->barrier();
  else g.dp->all_reduce(t, parallel::ReduceOp::kSum, parallel::Stream::host());  // #2
  g.world->barrier();
  const int n = layout.world;
  if (value != n * (n + 1) / 2) {
    std::fprintf(stderr, "watchdog_probe: sum %d, expected %d\n", value, n * (n + 1) / 2);
    return 1;
  }
  if (layout.rank == 0) std::printf("watchdog_probe: ok\n");
  return 0;
}
