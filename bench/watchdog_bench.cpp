// bench/watchdog_bench.cpp
// kiln_bench_watchdog: what the collective watchdog costs on the MPI backend (parallel/watchdog.h).
// Run under mpirun, e.g.
//   mpirun -np 2 build/bin/kiln_bench_watchdog [--rounds 5] [--iters 200]
// For each size, MpiComm::all_reduce (fp32 sum, host memory) is timed on the same world
// communicator two ways, alternating in rounds so that load from other processes hits both alike:
//   blocking   MPI_Allreduce (no watchdog, what parallel.timeout_s: 0 gives)
//   watched    MPI_Iallreduce completed by the polling loop under a deadline (the default)
// and a barrier likewise. Prints the median over rounds of the mean time per call, rank 0 only.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "launch/world.h"
#include "parallel/comm_mpi.h"
#include "parallel/watchdog.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, iters = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--iters") == 0) iters = std::atoi(argv[i + 1]);
  }
  launch::Launched l = launch::discover();
  if (l.world.size < 2) {
    std::printf("kiln_bench_watchdog: run under mpirun with 2 or more ranks\n");
    return 0;
  }
  std::unique_ptr<parallel::Comm> blocking = l.comm->split(0, l.world.rank);
  std::unique_ptr<parallel::Comm> watched = l.comm->split(0, l.world.rank);
  watched->set_watchdog(std::make_shared<parallel::Watchdog>(600.0), "bench");
  const bool root = l.world.rank == 0;
  if (root)
    std::printf("all_reduce fp32 sum, %d ranks, %d rounds x %d calls (fewer for large sizes); median of round means\n"
                "%12s %14s %14s %10s\n",
                l.world.size, rounds, iters, "elements", "blocking us", "watched us", "ratio");
  for (int64_t n : {int64_t(1), int64_t(1024), int64_t(1) << 16, int64_t(1) << 20, int64_t(1) << 22}) {
    std::vector<float> data(size_t(n), 1.0f);
    kernels::Tensor t{data.data(), kernels::DType::F32, kernels::Device::kCpu, kernels::Shape{n}};
    const int calls = std::max(4, int(int64_t(iters) * 1024 / std::max<int64_t>(1024, n / 64)));
    std::vector<double> a, b;
    for (int r = 0; r < rounds; ++r)
      for (parallel::Comm* c : {blocking.get(), watched.get()}) {
        c->barrier();
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) c->all_reduce(t, parallel::ReduceOp::kSum, parallel::Stream::host());
        const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / calls;
        (c == blocking.get() ? a : b).push_back(us);
      }
    if (root) std::printf("%12lld %14.2f %14.2f %10.2f\n", (long long)n, median(a), median(b), median(b) / median(a));
  }
  std::vector<double> a, b;
  for (int r = 0; r < rounds; ++r)
    for (parallel::Comm* c : {blocking.get(), watched.get()}) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < iters; ++i) c->barrier();
      const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
      (c == blocking.get() ? a : b).push_back(us);
    }
  if (root) std::printf("%12s %14.2f %14.2f %10.2f\n", "barrier", median(a), median(b), median(b) / median(a));
  return 0;
}
