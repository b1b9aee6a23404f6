// kernels/cudasim/launch.h
// Kernel launch in the simulator build: cudasim::launch<kernel>(grid, block, shared, stream, args...)
// is what kernels/cuda/compat.cuh's launch_kernel calls instead of kernel<<<...>>>(args...).
// It checks the configuration as the GPU would (a bad one sets cudaGetLastError and runs nothing),
// appends a line to the launch trace (KILN_CUDASIM_TRACE) and runs the grid block by block, every
// thread of a block a fiber (scheduler.cpp). Errors found while the kernel runs (divergent
// barriers, bad shuffle masks, __trap, shared-memory guard overwrites) throw cudasim::Error,
// naming the kernel, block and thread. Also the simulator's small public API (trace context).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/cudasim/runtime_api.h"
#include "kernels/cudasim/types.h"

namespace cudasim {

// An error the simulator found in a kernel's behaviour; what() names kernel, block and thread.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Appended to each trace line as " test=<context>" (tests set it to the running test's name), so
// the trace tells which test ran which kernel. Empty: no field.
void set_trace_context(const std::string& context);

// True in the race-check build (kiln_cudasim_racecheck: ThreadSanitizer reports races).
bool race_check_mode();

// Statistics of this process's simulation, for tests and benchmarks.
struct Stats {
  long long launches = 0, blocks = 0, threads = 0, switches = 0;
};
Stats stats();

namespace detail {

struct KernelRun {
  const char* name;                   // as in the source, template arguments included
  void (*body)(const void* params);   // calls the kernel with a copy of each parameter
  const void* params;
};
void run_grid(const KernelRun& run, dim3 grid, dim3 block, size_t shared_bytes);
std::string kernel_display_name(const char* pretty_function);

template <auto Kernel>
const char* kernel_name() {
  static const std::string name = kernel_display_name(__PRETTY_FUNCTION__);
  return name.c_str();
}

template <class F>
struct KernelParams;
template <class... P>
struct KernelParams<void (*)(P...)> {
  using Tuple = std::tuple<std::decay_t<P>...>;
};

}  // namespace detail

template <auto Kernel, class... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t /*stream: all work is synchronous*/,
            Args&&... args) {
  using Tuple = typename detail::KernelParams<decltype(Kernel)>::Tuple;
  const Tuple params(std::forward<Args>(args)...);  // converted to the parameter types, as a launch does
  const detail::KernelRun run{
      detail::kernel_name<Kernel>(),
      [](const void* p) { std::apply(Kernel, *static_cast<const Tuple*>(p)); },  // by value: a copy per thread
      &params};
  detail::run_grid(run, grid, block, shared_bytes);
}

}  // namespace cudasim
