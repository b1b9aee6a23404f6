// kernels/cudasim/scheduler.cpp
// Runs a simulated grid: blocks one after another, the threads of a block as fibers that switch
// only at __syncthreads, warp collectives and their end (device_api.h, launch.h). The last thread
// to arrive at a barrier or collective completes it for everyone and carries on; the others wait
// in a FIFO ready queue, so threads interleave at every synchronization point as they could on
// the GPU, and a missing barrier lets one warp overwrite what another still reads.
//
// Errors are found eagerly, when an operation can no longer complete, and end the launch with a
// cudasim::Error naming kernel, block and thread:
//   - a __syncthreads some thread of the block never reaches (it exited, waits at another
//     __syncthreads, or waits in a warp collective for a lane stuck at the barrier);
//   - a warp collective whose mask leaves out the calling lane, names a lane that does not
//     exist, has exited or waits elsewhere, or reads (shuffle) a lane outside the mask;
//   - lanes meeting in different collectives with the same mask; __trap();
//   - a write past the end of dynamic shared memory (guard bytes, checked after every switch).
// Static __shared__ arrays are plain statics: out-of-bounds accesses to them are caught by the
// AddressSanitizer build (the context of the failing access is printed by the death callback).
// Race-check build (KILN_CUDASIM_RACECHECK): barriers and __syncwarp become ThreadSanitizer
// happens-before edges and nothing else does, so two threads of a block touching one address
// between barriers, one of them writing, is reported by ThreadSanitizer with the fiber's name
// "block (x,y,z) thread (x,y,z) kernel<...>". Blocks are ordered one after another (their shared
// memory is the same static storage), so races between blocks are not reported.
#include <sys/types.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/cudasim/fiber.h"
#include "kernels/cudasim/trace.h"
#include "kernels/cudasim/warp_matrix.h"
#include "kernels/cudasim/launch.h"
#include "kernels/cudasim/device_api.h"

#if KILN_CUDASIM_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace cudasim {

namespace detail {
__thread const ThreadCoords* t_thread = nullptr;
__thread const BlockCoords* t_block = nullptr;
}  // namespace detail

namespace {

using detail::BarrierOp;
using detail::WarpOp;

constexpr int kMaxThreads = 1024;
#if KILN_CUDASIM_ASAN
constexpr size_t kStackBytes = 512 * 1024;  // instrumented frames are larger
#else
constexpr size_t kStackBytes = 128 * 1024;
#endif
constexpr size_t kGuardBytes = 64;  // after dynamic shared memory
constexpr unsigned char kGuardByte = 0xA5, kPoisonByte = 0xFF;  // poison: every float a NaN

enum class State : uint8_t { kReady, kBarrier, kWarp, kExited };

struct SimThread : detail::ThreadCoords {
  FiberContext ctx;
  int linear = 0, lane = 0, warp = 0;
  State state = State::kReady;
  std::source_location site;  // the barrier or collective it waits at
  detail::WarpArgs args{};    // its part of the pending collective
  uint64_t out[4] = {};
  int barrier_result = 0;     // of the last __syncthreads_count/and/or it took part in
};

// A collective some lanes of a warp have reached: identified by its mask.
struct Group {
  unsigned mask = 0, arrived = 0;
  WarpOp op = WarpOp::kSyncwarp;
  int kind = 0;  // mma: element type; must agree too
};

struct WarpState {
  std::vector<Group> groups;
  unsigned existing = 0, exited = 0, at_barrier = 0;  // lanes (bit l = lane l)
  char race_token = 0;  // address used as __syncwarp's happens-before token
};

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::kShflIdx: return "__shfl_sync";
    case WarpOp::kShflUp: return "__shfl_up_sync";
    case WarpOp::kShflDown: return "__shfl_down_sync";
    case WarpOp::kShflXor: return "__shfl_xor_sync";
    case WarpOp::kBallot: return "__ballot_sync";
    case WarpOp::kAny: return "__any_sync";
    case WarpOp::kAll: return "__all_sync";
    case WarpOp::kSyncwarp: return "__syncwarp";
    case WarpOp::kMma: return "mma.sync";
    case WarpOp::kLdmatrix: return "ldmatrix";
  }
  return "?";
}

// "file:line", the file relative to the repository (this file's own path tells where that is).
std::string where(const std::source_location& l) {
  static const std::string root = [] {
    const std::string self = __FILE__, tail = "kernels/cudasim/scheduler.cpp";
    return self.size() >= tail.size() ? self.substr(0, self.size() - tail.size()) : std::string();
  }();
  std::string f = l.file_name();
  if (!root.empty() && f.compare(0, root.size(), root) == 0) f.erase(0, root.size());
  return f + ":" + std::to_string(l.line());
}

std::string hex(unsigned m) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", m);
  return b;
}

std::string coords(uint3 v) {
  char b[48];
  std::snprintf(b, sizeof b, "(%u,%u,%u)", v.x, v.y, v.z);
  return b;
}

// Everything about the launch in progress on this host thread, and the reusable fibers.
struct Runner {
  std::vector<std::unique_ptr<FiberStack>> stacks;
  std::unique_ptr<SimThread[]> threads{new SimThread[kMaxThreads]};
  FiberContext host;

  const detail::KernelRun* run = nullptr;
  detail::BlockCoords block{};
  size_t shared_bytes = 0;
  std::vector<unsigned char> shared_storage;  // dynamic shared memory + guard
  unsigned char* shared = nullptr;

  int n_threads = 0, live = 0, exited = 0;
  int at_barrier = 0, barrier_acc = 0;  // arrivals and the count/and/or being reduced
  BarrierOp barrier_op = BarrierOp::kSync;
  std::source_location barrier_site;
  int barrier_first = -1, first_exited = -1;
  std::vector<WarpState> warps;
  std::vector<int> ready;  // ring buffer of thread indices
  size_t head = 0, count = 0;

  std::string error;
  char race_block_start = 0, race_block_end = 0, race_barrier = 0;

  void push(int i) {
    ready[(head + count) % ready.size()] = i;
    ++count;
  }
  int pop() {
    const int i = ready[head];
    head = (head + 1) % ready.size();
    --count;
    return i;
  }
  SimThread& current() { return *static_cast<SimThread*>(const_cast<detail::ThreadCoords*>(detail::t_thread)); }
  SimThread& at(int warp, int lane) { return threads[warp * 32 + lane]; }

  std::string prefix(const SimThread& t) const {
    return std::string("cudasim: kernel ") + run->name + ", block " + coords(block.block_idx) + ", thread " +
           coords(t.thread_idx) + ": ";
  }
};

thread_local Runner g_runner;
std::mutex g_launch_mutex;  // static __shared__ storage is per kernel, not per host thread
Stats g_stats;
std::mutex g_stats_mutex;

// Thrown inside a fiber to end it: unwinds the kernel's frames (freeing what they hold) up to
// thread_main, which leaves the fiber. Never crosses a fiber boundary.
struct AbortThread {};

// Ends the running fiber with an error about thread `who` (often the caller itself).
[[noreturn]] void fail_at(SimThread& who, const std::string& what) {
  Runner& r = g_runner;
  if (r.error.empty()) r.error = r.prefix(who) + what;
  throw AbortThread{};
}
[[noreturn]] void fail(const std::string& what) { fail_at(g_runner.current(), what); }

// Switches back to the scheduler until another thread makes this one ready again.
void wait() {
  Runner& r = g_runner;
  fiber_switch(r.current().ctx, r.host);
}

std::string describe_wait(const SimThread& u) {
  if (u.state == State::kBarrier) return "waits at __syncthreads at " + where(u.site);
  if (u.state == State::kWarp)
    return "waits in " + std::string(op_name(u.args.op)) + " at " + where(u.site) + " (mask " + hex(u.args.mask) + ")";
  if (u.state == State::kExited) return "has exited";
  return "is running";
}

// The lanes of w's collectives that wait for `lane` (it is in their mask but has not arrived).
const Group* group_waiting_for(const WarpState& w, int lane) {
  for (const Group& g : w.groups)
    if ((g.mask >> lane & 1u) && !(g.arrived >> lane & 1u)) return &g;
  return nullptr;
}

int first_lane(unsigned bits) { return std::countr_zero(bits); }

// Bookkeeping of a thread that returned from the kernel; fails if others wait for it.
void thread_exit(SimThread& t) {
  Runner& r = g_runner;
  race_release(&r.race_block_end);
  t.state = State::kExited;
  --r.live;
  ++r.exited;
  WarpState& w = r.warps[size_t(t.warp)];
  w.exited |= 1u << t.lane;
  if (r.first_exited < 0) r.first_exited = t.linear;
  if (r.at_barrier > 0) {
    const SimThread& b = r.threads[r.barrier_first];
    fail("exited without reaching the __syncthreads at " + where(r.barrier_site) + " that " +
         std::to_string(r.at_barrier) + " thread(s) of the block wait at (first: thread " + coords(b.thread_idx) +
         "): a __syncthreads must be reached by every thread of the block");
  }
  if (const Group* g = group_waiting_for(w, t.lane)) {
    const SimThread& u = r.at(t.warp, first_lane(g->arrived));
    fail("exited, but its lane " + std::to_string(t.lane) + " is named in the mask " + hex(g->mask) + " of the " +
         op_name(g->op) + " that thread " + coords(u.thread_idx) + " waits in at " + where(u.site) +
         " (a mask must name only lanes that reach the collective)");
  }
}

void thread_main(void* arg) {
  auto& t = *static_cast<SimThread*>(arg);
  Runner& r = g_runner;
  fiber_started(t.ctx, r.host);
  race_acquire(&r.race_block_start);
  try {
    r.run->body(r.run->params);
    thread_exit(t);
  } catch (const AbortThread&) {
    race_release(&r.race_block_end);  // the host reads the error message after the block
  }
  fiber_exit_to(t.ctx, r.host);
}

// ---- warp collectives ----------------------------------------------------------------------

// Computes every lane's result of the completed group g (all lanes of g.mask have arrived).
void complete(Runner& r, int warp, const Group& g) {
  if (g.op == WarpOp::kMma || g.op == WarpOp::kLdmatrix) {
    if (g.mask != 0xffffffffu)
      fail(std::string(op_name(g.op)) + ": every lane of the warp must take part (mask " + hex(g.mask) + ")");
    const detail::WarpArgs* lanes[32];
    uint64_t* outs[32];
    for (int l = 0; l < 32; ++l) {
      lanes[l] = &r.at(warp, l).args;
      outs[l] = r.at(warp, l).out;
    }
    return g.op == WarpOp::kMma ? detail::complete_mma(lanes, outs) : detail::complete_ldmatrix(lanes, outs);
  }
  uint32_t votes = 0;
  for (int l = 0; l < 32; ++l)
    if (g.mask >> l & 1u) votes |= uint32_t(r.at(warp, l).args.in[0] & 1u) << l;
  for (int l = 0; l < 32; ++l) {
    if (!(g.mask >> l & 1u)) continue;
    SimThread& u = r.at(warp, l);
    const detail::WarpArgs& a = u.args;
    switch (a.op) {
      case WarpOp::kBallot: u.out[0] = votes; break;
      case WarpOp::kAny: u.out[0] = votes != 0; break;
      case WarpOp::kAll: u.out[0] = votes == g.mask; break;
      case WarpOp::kSyncwarp: break;
      default: {
        // PTX shfl.sync: lanes form segments of `width`; a source outside the lane's segment (up,
        // down, xor: past its end) yields the lane's own value.
        const int w = a.width, seg = l / w * w;
        int src = l;
        if (a.op == WarpOp::kShflIdx) src = seg + (a.arg & (w - 1));
        if (a.op == WarpOp::kShflUp) src = (l - seg) >= a.arg ? l - a.arg : l;
        if (a.op == WarpOp::kShflDown) src = (l - seg) + a.arg < w ? l + a.arg : l;
        if (a.op == WarpOp::kShflXor) src = (l ^ a.arg) < seg + w ? (l ^ a.arg) : l;
        if (src < 0 || src > 31 || !(g.mask >> src & 1u))
          fail_at(u, std::string(op_name(a.op)) + " at " + where(u.site) + " reads lane " + std::to_string(src) +
                         ", which is not in the mask " + hex(g.mask) + " (its value would be undefined)");
        u.out[0] = r.at(warp, src).args.in[0];
      }
    }
  }
}

void check_collective(Runner& r, SimThread& t, const detail::WarpArgs& a, const std::source_location& loc) {
  const WarpState& w = r.warps[size_t(t.warp)];
  // Built only on an error path: this runs at every shuffle.
  const auto what = [&] { return std::string(op_name(a.op)) + " at " + where(loc) + ": "; };
  if (!(a.mask >> t.lane & 1u))
    fail(what() + "the mask " + hex(a.mask) + " does not include the calling lane " + std::to_string(t.lane));
  if (a.mask & ~w.existing) {
    const int l = first_lane(a.mask & ~w.existing);
    fail(what() + "the mask " + hex(a.mask) + " names lane " + std::to_string(l) + ", which does not exist (the block has " +
         std::to_string(r.n_threads) + " threads)");
  }
  if ((a.op == WarpOp::kShflIdx || a.op == WarpOp::kShflUp || a.op == WarpOp::kShflDown ||
       a.op == WarpOp::kShflXor) &&
      (a.width < 1 || a.width > 32 || (a.width & (a.width - 1)) != 0))
    fail(what() + "width " + std::to_string(a.width) + " is not a power of two in [1, 32]");
  // Lanes of the mask that can never arrive: exited, waiting at a barrier (which needs this
  // thread), or waiting in a collective with another mask that includes this lane.
  unsigned stuck = a.mask & (w.exited | w.at_barrier);
  for (const Group& g : w.groups)
    if (g.mask != a.mask && (g.mask >> t.lane & 1u)) stuck |= a.mask & g.arrived;
  if (stuck != 0) {
    const SimThread& u = r.at(t.warp, first_lane(stuck));
    fail(what() + "the mask " + hex(a.mask) + " names lane " + std::to_string(u.lane) + " (thread " +
         coords(u.thread_idx) + "), which " + describe_wait(u) + ", so it never arrives here");
  }
}

// ---- the block loop ------------------------------------------------------------------------

void set_host_error(const SimThread& who, const std::string& what) {
  Runner& r = g_runner;
  if (r.error.empty()) r.error = r.prefix(who) + what;
}

// Nothing is ready but threads remain: say who waits for whom.
void diagnose_deadlock(Runner& r) {
  for (int i = 0; i < r.n_threads; ++i) {
    const SimThread& t = r.threads[i];
    if (t.state != State::kWarp) continue;
    const WarpState& w = r.warps[size_t(t.warp)];
    for (const Group& g : w.groups) {
      if (!(g.mask >> t.lane & 1u)) continue;
      const unsigned missing = g.mask & ~g.arrived;
      const SimThread& u = r.at(t.warp, first_lane(missing));
      return set_host_error(t, std::string(op_name(g.op)) + " at " + where(t.site) + " (mask " + hex(g.mask) +
                                   ") waits for lane " + std::to_string(u.lane) + " (thread " + coords(u.thread_idx) +
                                   "), which " + describe_wait(u));
    }
  }
  set_host_error(r.threads[0], "deadlock: no thread can make progress");
}

void run_block(Runner& r, uint3 block_idx) {
  r.block.block_idx = block_idx;
  const int n = r.n_threads;
  if (r.shared_bytes > 0) std::memset(r.shared, kPoisonByte, r.shared_bytes);
  r.live = n;
  r.exited = 0;
  r.at_barrier = 0;
  r.barrier_first = r.first_exited = -1;
  for (WarpState& w : r.warps) {
    w.groups.clear();
    w.exited = w.at_barrier = 0;
  }
  r.head = r.count = 0;
  const uint3 bd = r.block.block_dim;
  for (int i = 0; i < n; ++i) {
    SimThread& t = r.threads[i];
    t.linear = i;
    t.thread_idx = {unsigned(i) % bd.x, unsigned(i) / bd.x % bd.y, unsigned(i) / (bd.x * bd.y)};
    t.lane = i % 32;
    t.warp = i / 32;
    t.state = State::kReady;
    fiber_prepare(t.ctx, *r.stacks[size_t(i)], &thread_main, &t);
    if (race_check_build()) {
      // Coordinates first: ThreadSanitizer keeps only the first 63 characters of a name.
      const std::string name = "block " + coords(block_idx) + " thread " + coords(t.thread_idx) + " " + r.run->name;
      fiber_set_race_identity(t.ctx, name.c_str());
    }
    r.push(i);
  }
  race_release(&r.race_block_start);
  long long switches = 0;
  while (r.live > 0 && r.error.empty()) {
    if (r.count == 0) {
      diagnose_deadlock(r);
      break;
    }
    SimThread& t = r.threads[r.pop()];
    detail::t_thread = &t;
    fiber_switch(r.host, t.ctx);
    ++switches;
    if (r.shared_bytes > 0 && r.error.empty()) {
      const unsigned char* guard = r.shared + r.shared_bytes;
      for (size_t k = 0; k < r.shared_storage.size() - r.shared_bytes; ++k)
        if (guard[k] != kGuardByte) {
          set_host_error(t, "wrote past the end of the " + std::to_string(r.shared_bytes) +
                                " bytes of dynamic shared memory (at byte " + std::to_string(r.shared_bytes + k) +
                                ") while it ran");
          break;
        }
    }
  }
  race_acquire(&r.race_block_end);
  detail::t_thread = nullptr;
  std::lock_guard<std::mutex> lock(g_stats_mutex);
  g_stats.switches += switches;
}

#if KILN_CUDASIM_ASAN
// AddressSanitizer's report names the access; this adds which simulated thread made it.
void print_context_on_death() {
  Runner& r = g_runner;
  if (r.run == nullptr || detail::t_thread == nullptr) return;
  std::fprintf(stderr, "%swhile running this thread (AddressSanitizer report above)\n", r.prefix(r.current()).c_str());
}
#endif

// A configuration the GPU would refuse (cudaErrorInvalidConfiguration): nothing runs.
bool valid_config(dim3 grid, dim3 block, size_t shared) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  return block.x >= 1 && block.y >= 1 && block.z >= 1 && block.x <= 1024 && block.y <= 1024 && block.z <= 64 &&
         threads <= unsigned(kMaxThreads) && grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 0x7fffffffu &&
         grid.y <= 65535 && grid.z <= 65535 && shared <= 48 * 1024;
}

}  // namespace

namespace detail {

void run_grid(const KernelRun& run, dim3 grid, dim3 block, size_t shared_bytes) {
  if (!valid_config(grid, block, shared_bytes)) {
    set_last_error(cudaErrorInvalidConfiguration);
    return;
  }
  std::lock_guard<std::mutex> lock(g_launch_mutex);
#if KILN_CUDASIM_ASAN
  static const bool registered = (__sanitizer_set_death_callback(&print_context_on_death), true);
  (void)registered;
#endif
  trace_launch(run.name, grid, block, shared_bytes);
  Runner& r = g_runner;
  r.run = &run;
  r.block.block_dim = block;
  r.block.grid_dim = grid;
  r.n_threads = int(block.x * block.y * block.z);
  while (r.stacks.size() < size_t(r.n_threads)) r.stacks.push_back(std::make_unique<FiberStack>(kStackBytes));
  r.warps.assign(size_t((r.n_threads + 31) / 32), WarpState{});
  for (size_t w = 0; w < r.warps.size(); ++w) {
    const int lanes = std::min(32, r.n_threads - int(w) * 32);
    r.warps[w].existing = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
  }
  r.ready.assign(size_t(r.n_threads), 0);
  r.shared_bytes = shared_bytes;
#if KILN_CUDASIM_ASAN
  const size_t guard = 0;  // an exact-size allocation: AddressSanitizer guards the end itself
#else
  const size_t guard = kGuardBytes;
#endif
  r.shared_storage.assign(shared_bytes + guard, kGuardByte);
  r.shared_storage.shrink_to_fit();
  r.shared = r.shared_storage.data();
  r.error.clear();
  detail::t_block = &r.block;
  long long blocks = 0;
  for (unsigned z = 0; z < grid.z && r.error.empty(); ++z)
    for (unsigned y = 0; y < grid.y && r.error.empty(); ++y)
      for (unsigned x = 0; x < grid.x && r.error.empty(); ++x, ++blocks) run_block(r, {x, y, z});
  detail::t_block = nullptr;
  r.run = nullptr;
  {
    std::lock_guard<std::mutex> slock(g_stats_mutex);
    ++g_stats.launches;
    g_stats.blocks += blocks;
    g_stats.threads += blocks * r.n_threads;
  }
  if (!r.error.empty()) throw Error(r.error);
}

int block_barrier(BarrierOp op, int predicate, const std::source_location& loc) {
  Runner& r = g_runner;
  SimThread& t = r.current();
  const auto what = [&] { return "__syncthreads at " + where(loc) + ": "; };  // error paths only
  if (r.first_exited >= 0)
    fail(what() + "thread " + coords(r.threads[r.first_exited].thread_idx) +
         " of this block has already exited, so not every thread reaches it (divergent __syncthreads)");
  if (const Group* g = group_waiting_for(r.warps[size_t(t.warp)], t.lane)) {
    const SimThread& u = r.at(t.warp, first_lane(g->arrived));
    fail(what() + "reached while lane(s) of its warp wait for it in the " + op_name(g->op) + " at " + where(u.site) +
         " (mask " + hex(g->mask) + ")");
  }
  if (r.at_barrier == 0) {
    r.barrier_site = loc;
    r.barrier_first = t.linear;
    r.barrier_op = op;
    r.barrier_acc = op == BarrierOp::kAnd ? 1 : 0;
  } else if (std::strcmp(r.barrier_site.file_name(), loc.file_name()) != 0 || r.barrier_site.line() != loc.line() ||
             r.barrier_op != op) {
    fail(what() + "thread " + coords(r.threads[r.barrier_first].thread_idx) + " waits at the __syncthreads at " +
         where(r.barrier_site) + " instead: the threads of a block must reach the same barrier");
  }
  if (op == BarrierOp::kCount) r.barrier_acc += predicate != 0;
  if (op == BarrierOp::kAnd) r.barrier_acc &= predicate != 0;
  if (op == BarrierOp::kOr) r.barrier_acc |= predicate != 0;
  race_release(&r.race_barrier);
  t.site = loc;
  if (++r.at_barrier == r.live) {
    // Each thread keeps its result: the completing thread runs on and may start the next
    // barrier (resetting the accumulator) before the others resume.
    r.at_barrier = 0;
    t.barrier_result = r.barrier_acc;
    for (int i = 0; i < r.n_threads; ++i)
      if (r.threads[i].state == State::kBarrier) {
        r.threads[i].state = State::kReady;
        r.threads[i].barrier_result = r.barrier_acc;
        r.push(i);
      }
    for (WarpState& w : r.warps) w.at_barrier = 0;
  } else {
    t.state = State::kBarrier;
    r.warps[size_t(t.warp)].at_barrier |= 1u << t.lane;
    wait();
  }
  race_acquire(&r.race_barrier);
  return t.barrier_result;
}

void warp_collective(const WarpArgs& a, uint64_t* out, const std::source_location& loc) {
  Runner& r = g_runner;
  SimThread& t = r.current();
  check_collective(r, t, a, loc);
  WarpState& w = r.warps[size_t(t.warp)];
  Group* g = nullptr;
  for (Group& x : w.groups)
    if (x.mask == a.mask) g = &x;
  // mma and ldmatrix must also agree on element type, count and transposition.
  const int kind = a.op == WarpOp::kMma || a.op == WarpOp::kLdmatrix ? a.width * 8 + a.arg : 0;
  if (g != nullptr && (g->op != a.op || g->kind != kind)) {
    const SimThread& u = r.at(t.warp, first_lane(g->arrived));
    fail(std::string(op_name(a.op)) + " at " + where(loc) + ": lane " + std::to_string(u.lane) + " waits in the " +
         op_name(g->op) + " at " + where(u.site) + " with the same mask " + hex(a.mask) +
         ": the lanes of a mask must run the same collective");
  }
  if (g == nullptr) {
    w.groups.push_back(Group{a.mask, 0, a.op, kind});
    g = &w.groups.back();
  }
  t.args = a;
  t.site = loc;
  if (a.op == WarpOp::kSyncwarp) race_release(&w.race_token);
  g->arrived |= 1u << t.lane;
  if (g->arrived == g->mask) {
    const Group done = *g;
    w.groups.erase(w.groups.begin() + (g - w.groups.data()));
    complete(r, t.warp, done);
    for (unsigned m = done.mask & ~(1u << t.lane); m != 0; m &= m - 1) {
      SimThread& u = r.at(t.warp, first_lane(m));
      u.state = State::kReady;
      r.push(u.linear);
    }
  } else {
    t.state = State::kWarp;
    wait();
  }
  if (a.op == WarpOp::kSyncwarp) race_acquire(&w.race_token);
  std::memcpy(out, t.out, sizeof t.out);
}

void trap(const std::source_location& loc) {
  fail("__trap() at " + where(loc) + " (a device-side abort: on a GPU the launch fails with cudaErrorLaunchFailure)");
}

void* dynamic_shared() { return g_runner.shared; }

void device_error(const std::string& what, const std::source_location& loc) { fail(what + " at " + where(loc)); }

}  // namespace detail

bool race_check_mode() { return race_check_build(); }

Stats stats() {
  std::lock_guard<std::mutex> lock(g_stats_mutex);
  return g_stats;
}

}  // namespace cudasim
