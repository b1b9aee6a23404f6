// kernels/cudasim/fiber.h
// Cooperative fibers for the CUDA simulator: one per simulated GPU thread. A fiber is a stack plus
// a saved register context; switching is an explicit call, never preemption, so a simulated
// thread runs until it reaches a barrier, a warp collective or the end of the kernel.
// Used only by kernels/cudasim/scheduler.cpp. Not here: any CUDA semantics (who waits for whom).
//
// Two implementations of the switch (chosen at compile time, see fiber.cpp):
//   - x86-64: a hand-written switch that saves the six callee-saved registers, MXCSR and the x87
//     control word (~20 instructions, no system call);
//   - elsewhere, or with KILN_CUDASIM_UCONTEXT=1: POSIX ucontext (swapcontext), which also saves
//     the signal mask with a system call on every switch.
// Both tell AddressSanitizer and ThreadSanitizer about every switch when built with them, so
// their reports stay correct on fiber stacks (ThreadSanitizer sees each fiber as its own thread).
#pragma once

#include <cstddef>

// Whether this translation unit is built with AddressSanitizer: GCC defines __SANITIZE_ADDRESS__,
// clang answers __has_feature(address_sanitizer) only (scripts/test.sh --sanitize builds with
// clang). Every ASan-only piece of the simulator tests KILN_CUDASIM_ASAN.
#if defined(__SANITIZE_ADDRESS__)
#define KILN_CUDASIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KILN_CUDASIM_ASAN 1
#endif
#endif
#ifndef KILN_CUDASIM_ASAN
#define KILN_CUDASIM_ASAN 0
#endif

namespace cudasim {

// One mmap'd stack with a PROT_NONE guard page below it: an overflow faults instead of silently
// corrupting the neighbour. Reused across blocks and launches (see FiberPool in scheduler.cpp).
class FiberStack {
 public:
  explicit FiberStack(size_t bytes);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;
  char* bottom() const { return base_ + guard_; }  // lowest usable address
  size_t size() const { return size_; }

 private:
  char* base_ = nullptr;
  size_t guard_ = 0, size_ = 0;
};

// A saved execution context: the host's (the scheduler) or a fiber's.
struct FiberContext {
  void* sp = nullptr;               // hand-written switch: the saved stack pointer
  void* ucontext = nullptr;         // ucontext build: a ucontext_t
  void* asan_fake_stack = nullptr;  // AddressSanitizer bookkeeping across switches
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;            // 0 for the host until the first switch tells us
  void* tsan_fiber = nullptr;       // ThreadSanitizer's state for this context
  void (*entry)(void*) = nullptr;   // ucontext build: what a prepared context starts with
  void* arg = nullptr;
  bool started = true;
  FiberContext() = default;
  ~FiberContext();
  FiberContext(const FiberContext&) = delete;
  FiberContext& operator=(const FiberContext&) = delete;
};

// Makes `ctx` start entry(arg) on `stack` at the first switch to it. entry must never return: a
// finished fiber switches away for good (fiber_exit_to).
void fiber_prepare(FiberContext& ctx, FiberStack& stack, void (*entry)(void*), void* arg);

// Saves the running context into `from` and resumes `to`. Returns when someone switches back.
void fiber_switch(FiberContext& from, FiberContext& to);

// Leaves the running fiber for good (its stack may be reused at once) and resumes `to`.
[[noreturn]] void fiber_exit_to(FiberContext& from, FiberContext& to);

// Called first thing by every fiber entry: completes the switch that started it (sanitizers).
void fiber_started(FiberContext& self, FiberContext& from);

// ThreadSanitizer: gives the context its own race-detector identity (kept when the context is
// reused) and the name reports print ("block (x,y,z) thread (x,y,z) kernel"). No-op otherwise.
void fiber_set_race_identity(FiberContext& ctx, const char* name);
// ThreadSanitizer happens-before edges (no-ops in other builds): release on `token` by the
// running context, acquire of everything released on it so far.
void race_release(const void* token);
void race_acquire(const void* token);
// True in a ThreadSanitizer build (the simulator's race-check mode).
bool race_check_build();

}  // namespace cudasim
