// tests/parallel/exit_probe.cpp
// A tiny program for the start-up and shut-down contract of launch::discover under mpirun,
// where MPI is initialised by discover() itself (not by a test main):
//   exit_probe ok    every rank discovers, prints the world table, all-reduces, returns 0:
//                    the exit handler finalises MPI and mpirun exits 0.
//   exit_probe fail  rank 1 fails (kernels::fail, exit 1) while the others wait in a barrier:
//                    the job must end promptly with a non-zero status instead of hanging in
//                    MPI_Finalize (the reason finalize-at-exit only runs on status 0).
// Registered in CMakeLists.txt as test_parallel_exit_{ok,fail}_np3 (the fail one with WILL_FAIL
// and a short timeout: a hang is reported as a timeout, which WILL_FAIL does not excuse).
#include <cstdio>
#include <cstring>

#include "kernels/check.h"
#include "launch/world.h"
#include "parallel/comm.h"

int main(int argc, char** argv) {
  const bool fail = argc > 1 && std::strcmp(argv[1], "fail") == 0;
  launch::Launched l = launch::discover();
  launch::print_world_table(l);

  if (fail && l.world.rank == 1) kernels::fail("exit_probe", "rank 1 fails on purpose", __FILE__, __LINE__);
  l.comm->barrier();

  int value = l.world.rank + 1;
  kernels::Tensor t{&value, kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{1}};
  l.comm->all_reduce(t, parallel::ReduceOp::kSum, parallel::Stream::host());
  const int n = l.world.size;
  if (value != n * (n + 1) / 2) {
    std::fprintf(stderr, "exit_probe: sum %d, expected %d\n", value, n * (n + 1) / 2);
    return 1;
  }
  if (l.world.rank == 0) std::printf("exit_probe: sum of 1..%d = %d\n", n, value);
  return 0;
}
