// bench/cudasim_fiber_bench.cpp
// Cost of the CUDA simulator's fiber switch (kernels/cudasim/fiber.h): 256 fibers, each switching
// back to the host 20,000 times, the host resuming them round-robin (the simulator's pattern at a
// warp shuffle: fiber -> scheduler -> next fiber). Prints nanoseconds per switch (one direction).
// Built twice by bench/CMakeLists.txt: kiln_bench_cudasim_fiber (the hand-written x86-64 switch)
// and kiln_bench_cudasim_fiber_ucontext (swapcontext), so the choice in fiber.cpp can be rechecked:
//   build/bin/kiln_bench_cudasim_fiber; build/bin/kiln_bench_cudasim_fiber_ucontext
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "kernels/cudasim/fiber.h"

namespace {

constexpr int kFibers = 256;
constexpr int kRounds = 20000;

cudasim::FiberContext g_host;
struct Worker {
  cudasim::FiberContext ctx;
  long counter = 0;
};

void worker_main(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  cudasim::fiber_started(w->ctx, g_host);
  for (int r = 0; r < kRounds; ++r) {
    ++w->counter;
    cudasim::fiber_switch(w->ctx, g_host);
  }
  cudasim::fiber_exit_to(w->ctx, g_host);
}

}  // namespace

int main() {
  std::vector<std::unique_ptr<cudasim::FiberStack>> stacks;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < kFibers; ++i) {
    stacks.push_back(std::make_unique<cudasim::FiberStack>(64 * 1024));
    workers.push_back(std::make_unique<Worker>());
    cudasim::fiber_prepare(workers.back()->ctx, *stacks.back(), &worker_main, workers.back().get());
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r <= kRounds; ++r)  // the last round lets every fiber exit
    for (auto& w : workers) cudasim::fiber_switch(g_host, w->ctx);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double switches = 2.0 * kFibers * (kRounds + 1);
  long total = 0;
  for (auto& w : workers) total += w->counter;
  std::printf("%d fibers x %d rounds: %.1f ns per switch (%.0f switches, %.3f s, check %ld)\n", kFibers, kRounds,
              1e9 * s / switches, switches, s, total);
  return total == long(kFibers) * kRounds ? 0 : 1;
}
