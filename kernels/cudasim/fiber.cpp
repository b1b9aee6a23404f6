// kernels/cudasim/fiber.cpp
// The fiber switch of fiber.h: a hand-written x86-64 switch (default there) or POSIX ucontext, with
// AddressSanitizer and ThreadSanitizer annotations. Measured (bench/bench_cudasim_fiber.cpp): the
// hand-written switch is ~10x cheaper than swapcontext, which makes a system call per switch to
// save the signal mask; simulated kernels switch at every shuffle, so that is most of their cost.
#include "kernels/cudasim/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && !KILN_CUDASIM_UCONTEXT
#define KILN_CUDASIM_ASM_SWITCH 1
#else
#define KILN_CUDASIM_ASM_SWITCH 0
#include <ucontext.h>
#endif

#if KILN_CUDASIM_ASAN  // fiber.h
#include <sanitizer/common_interface_defs.h>
#endif
// The race-check build instruments the kernels with ThreadSanitizer but compiles the simulator's
// own files without it (their bookkeeping is shared by all fibers on purpose); this file then
// drives ThreadSanitizer's fiber API by hand. kernels/cudasim/CMakeLists.txt sets the macro.
#if KILN_CUDASIM_RACECHECK
#include <sanitizer/tsan_interface.h>
#define KILN_CUDASIM_TSAN 1
#else
#define KILN_CUDASIM_TSAN 0
#endif

#if KILN_CUDASIM_ASM_SWITCH
// void cudasim_switch_stack(void** save_sp, void* new_sp): pushes the callee-saved state on the
// current stack, stores the stack pointer, loads the other one and pops its state. A new fiber's
// stack is prepared (fiber_prepare) so that the final `ret` lands in cudasim_fiber_start with
// r12 = arg, r13 = entry.
asm(R"(
  .text
  .p2align 4
  .globl cudasim_switch_stack
  .hidden cudasim_switch_stack
  .type cudasim_switch_stack, @function
cudasim_switch_stack:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw (%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size cudasim_switch_stack, .-cudasim_switch_stack

  .p2align 4
  .globl cudasim_fiber_start
  .hidden cudasim_fiber_start
  .type cudasim_fiber_start, @function
cudasim_fiber_start:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size cudasim_fiber_start, .-cudasim_fiber_start
)");
extern "C" void cudasim_switch_stack(void** save_sp, void* new_sp);
extern "C" void cudasim_fiber_start();
#endif

namespace cudasim {

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "cudasim: %s\n", what);
  std::abort();
}

#if !KILN_CUDASIM_ASM_SWITCH
// makecontext passes only int arguments: the entry and argument of a context that has not run
// yet are handed over through these, set right before the first switch into it.
thread_local void (*t_start_entry)(void*) = nullptr;
thread_local void* t_start_arg = nullptr;
void ucontext_start() {
  t_start_entry(t_start_arg);
  die("a fiber entry returned");
}
ucontext_t& uctx(FiberContext& c) {
  if (c.ucontext == nullptr) c.ucontext = new ucontext_t();
  return *static_cast<ucontext_t*>(c.ucontext);
}
#endif

// The sanitizer halves of a switch: announce the target stack before, learn ours back after.
inline void before_switch(FiberContext& from, FiberContext& to, bool from_exits) {
#if KILN_CUDASIM_ASAN
  __sanitizer_start_switch_fiber(from_exits ? nullptr : &from.asan_fake_stack, to.stack_bottom, to.stack_size);
#else
  (void)from, (void)from_exits;
#endif
#if KILN_CUDASIM_TSAN
  if (from.tsan_fiber == nullptr) from.tsan_fiber = __tsan_get_current_fiber();  // the host, first time
  if (to.tsan_fiber == nullptr) to.tsan_fiber = __tsan_create_fiber(0);
  // No implied synchronization: simulated threads are ordered only by barriers (race_*).
  __tsan_switch_to_fiber(to.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#else
  (void)to;
#endif
}

inline void after_switch(FiberContext& self, FiberContext& from) {
#if KILN_CUDASIM_ASAN
  const void* bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(self.asan_fake_stack, &bottom, &size);
  if (from.stack_size == 0) {  // the host context: ASan tells us its stack on the first switch
    from.stack_bottom = bottom;
    from.stack_size = size;
  }
#else
  (void)self, (void)from;
#endif
}

}  // namespace

FiberStack::FiberStack(size_t bytes) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  guard_ = page;
  size_ = (bytes + page - 1) / page * page;
  void* p = mmap(nullptr, guard_ + size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) die("mmap of a fiber stack failed");
  base_ = static_cast<char*>(p);
  if (mprotect(base_, guard_, PROT_NONE) != 0) die("mprotect of a fiber stack guard page failed");
}

FiberStack::~FiberStack() { munmap(base_, guard_ + size_); }

FiberContext::~FiberContext() {
#if !KILN_CUDASIM_ASM_SWITCH
  delete static_cast<ucontext_t*>(ucontext);
#endif
#if KILN_CUDASIM_TSAN
  if (tsan_fiber != nullptr && tsan_fiber != __tsan_get_current_fiber()) __tsan_destroy_fiber(tsan_fiber);
#endif
}

void fiber_prepare(FiberContext& ctx, FiberStack& stack, void (*entry)(void*), void* arg) {
  ctx.stack_bottom = stack.bottom();
  ctx.stack_size = stack.size();
  ctx.asan_fake_stack = nullptr;
#if KILN_CUDASIM_ASM_SWITCH
  // Frame popped by cudasim_switch_stack, from the new stack pointer upwards:
  //   [x87 cw][mxcsr] r15 r14 r13 r12 rbx rbp [return address = cudasim_fiber_start]
  // After its `ret`, rsp is 16-byte aligned, so the `call` in cudasim_fiber_start enters
  // entry() with the alignment the ABI requires.
  auto top = reinterpret_cast<uintptr_t>(stack.bottom() + stack.size()) & ~uintptr_t(15);
  auto* slot = reinterpret_cast<uint64_t*>(top - 8);  // return address slot: top - 8 (8 mod 16)
  slot[0] = reinterpret_cast<uint64_t>(&cudasim_fiber_start);
  slot[-1] = 0;                                     // rbp
  slot[-2] = 0;                                     // rbx
  slot[-3] = reinterpret_cast<uint64_t>(arg);       // r12
  slot[-4] = reinterpret_cast<uint64_t>(entry);     // r13
  slot[-5] = 0;                                     // r14
  slot[-6] = 0;                                     // r15
  uint32_t mxcsr = 0;
  uint16_t fpucw = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  std::memcpy(&slot[-7], &mxcsr, sizeof mxcsr);    // 8(%rsp)
  slot[-8] = 0;
  std::memcpy(&slot[-8], &fpucw, sizeof fpucw);    // (%rsp)
  ctx.sp = &slot[-8];
#else
  ucontext_t& u = uctx(ctx);
  if (getcontext(&u) != 0) die("getcontext failed");
  u.uc_stack.ss_sp = stack.bottom();
  u.uc_stack.ss_size = stack.size();
  u.uc_link = nullptr;
  makecontext(&u, &ucontext_start, 0);  // entry/arg reach it through t_start_* (fiber_switch)
  ctx.entry = entry;
  ctx.arg = arg;
  ctx.started = false;
#endif
}

void fiber_switch(FiberContext& from, FiberContext& to) {
  before_switch(from, to, false);
#if KILN_CUDASIM_ASM_SWITCH
  cudasim_switch_stack(&from.sp, to.sp);
#else
  if (!to.started) {
    to.started = true;
    t_start_entry = to.entry;
    t_start_arg = to.arg;
  }
  if (swapcontext(&uctx(from), &uctx(to)) != 0) die("swapcontext failed");
#endif
  after_switch(from, to);
}

void fiber_exit_to(FiberContext& from, FiberContext& to) {
  before_switch(from, to, true);
#if KILN_CUDASIM_ASM_SWITCH
  // The exiting stack pointer is saved into `from` (reset by the next fiber_prepare), never into a
  // local: under ASan's detect_stack_use_after_return a local lives on the fiber's fake stack,
  // which before_switch has just released.
  cudasim_switch_stack(&from.sp, to.sp);
#else
  if (!to.started) {
    to.started = true;
    t_start_entry = to.entry;
    t_start_arg = to.arg;
  }
  setcontext(&uctx(to));
#endif
  die("an exited fiber was resumed");
}

void fiber_started(FiberContext& self, FiberContext& from) { after_switch(self, from); }

void fiber_set_race_identity(FiberContext& ctx, const char* name) {
#if KILN_CUDASIM_TSAN
  // Created once per context and renamed when reused: creating a ThreadSanitizer fiber costs
  // milliseconds. Reuse hides nothing, as the scheduler orders consecutive blocks anyway.
  if (ctx.tsan_fiber == nullptr) ctx.tsan_fiber = __tsan_create_fiber(0);
  __tsan_set_fiber_name(ctx.tsan_fiber, name);
#else
  (void)ctx, (void)name;
#endif
}

void race_release(const void* token) {
#if KILN_CUDASIM_TSAN
  __tsan_release(const_cast<void*>(token));
#else
  (void)token;
#endif
}

void race_acquire(const void* token) {
#if KILN_CUDASIM_TSAN
  __tsan_acquire(const_cast<void*>(token));
#else
  (void)token;
#endif
}

bool race_check_build() { return KILN_CUDASIM_TSAN != 0; }

}  // namespace cudasim
