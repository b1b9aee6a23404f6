// kernels/cudasim/device_api.h
// What device code may call in the simulator build: the built-in coordinates (threadIdx, blockIdx,
// blockDim, gridDim, warpSize), __syncthreads and its count/and/or forms, warp shuffles, votes and
// __syncwarp (all with masks), atomics, fences, math intrinsics, CUDA's global min/max, __trap and
// dynamic shared memory. Included through kernels/cudasim/cuda_spellings.h.
//
// Barriers and warp collectives are calls into the scheduler (scheduler.cpp): the calling
// simulated thread (a fiber) records what it waits for and switches away; the last participant
// completes the operation for everyone, so the semantics are the GPU's, not a sequential loop's.
// Each takes the caller's source location, so errors name the line (divergent __syncthreads, a
// mask naming a lane that never arrives, lanes in different collectives).
// Not here: launching (launch.h), the scheduler's bookkeeping (scheduler.cpp).
#pragma once

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <string>
#include <type_traits>

#include "kernels/cudasim/types.h"

namespace cudasim::detail {

// Where the running simulated thread is. Set by the scheduler before it resumes a fiber; the
// built-in variables below read them (plain thread-local loads: one host thread runs one block).
struct ThreadCoords {
  uint3 thread_idx;
};
struct BlockCoords {
  uint3 block_idx, block_dim, grid_dim;
};
extern __thread const ThreadCoords* t_thread;
extern __thread const BlockCoords* t_block;

// The kinds of warp collective the scheduler completes (kShfl* follow PTX shfl.sync's modes).
enum class WarpOp : uint8_t { kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll, kSyncwarp, kMma, kLdmatrix };

// One lane's part of a warp collective: up to 12 64-bit words in, 4 out.
struct WarpArgs {
  WarpOp op;
  unsigned mask;
  int arg = 0;    // source lane, delta or lane mask (shuffles); the matrix count (ldmatrix)
  int width = 32; // shuffle segment width; mma: element type; ldmatrix: 1 = transposed
  uint64_t in[12] = {};
};
void warp_collective(const WarpArgs& a, uint64_t* out, const std::source_location& loc);

enum class BarrierOp : uint8_t { kSync, kCount, kAnd, kOr };
int block_barrier(BarrierOp op, int predicate, const std::source_location& loc);

[[noreturn]] void trap(const std::source_location& loc);
// Ends the launch with an error about the running thread: "<what> at <file:line>".
[[noreturn]] void device_error(const std::string& what, const std::source_location& loc);
void* dynamic_shared();

template <class T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffles move at most 64 bits");
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T>
T from_bits(uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}

template <class T>
T shuffle(WarpOp op, unsigned mask, T var, int arg, int width, const std::source_location& loc) {
  WarpArgs a{op, mask, arg, width};
  a.in[0] = to_bits(var);
  uint64_t out[4];
  warp_collective(a, out, loc);
  return from_bits<T>(out[0]);
}

}  // namespace cudasim::detail

// ---- built-in variables ------------------------------------------------------------------------
#define threadIdx (::cudasim::detail::t_thread->thread_idx)
#define blockIdx (::cudasim::detail::t_block->block_idx)
#define blockDim (::cudasim::detail::t_block->block_dim)
#define gridDim (::cudasim::detail::t_block->grid_dim)

namespace cudasim::api {

constexpr int warpSize = 32;

// ---- block barrier -----------------------------------------------------------------------------
inline void __syncthreads(std::source_location loc = std::source_location::current()) {
  ::cudasim::detail::block_barrier(::cudasim::detail::BarrierOp::kSync, 0, loc);
}
inline int __syncthreads_count(int p, std::source_location loc = std::source_location::current()) {
  return ::cudasim::detail::block_barrier(::cudasim::detail::BarrierOp::kCount, p, loc);
}
inline int __syncthreads_and(int p, std::source_location loc = std::source_location::current()) {
  return ::cudasim::detail::block_barrier(::cudasim::detail::BarrierOp::kAnd, p, loc);
}
inline int __syncthreads_or(int p, std::source_location loc = std::source_location::current()) {
  return ::cudasim::detail::block_barrier(::cudasim::detail::BarrierOp::kOr, p, loc);
}

// ---- warp collectives --------------------------------------------------------------------------
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
              std::source_location loc = std::source_location::current()) {
  return ::cudasim::detail::shuffle(::cudasim::detail::WarpOp::kShflIdx, mask, var, src_lane, width, loc);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 std::source_location loc = std::source_location::current()) {
  return ::cudasim::detail::shuffle(::cudasim::detail::WarpOp::kShflUp, mask, var, int(delta), width, loc);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   std::source_location loc = std::source_location::current()) {
  return ::cudasim::detail::shuffle(::cudasim::detail::WarpOp::kShflDown, mask, var, int(delta), width, loc);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                  std::source_location loc = std::source_location::current()) {
  return ::cudasim::detail::shuffle(::cudasim::detail::WarpOp::kShflXor, mask, var, lane_mask, width, loc);
}
inline unsigned __ballot_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  return unsigned(::cudasim::detail::shuffle(::cudasim::detail::WarpOp::kBallot, mask, uint32_t(pred != 0), 0, 32, loc));
}
inline int __any_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  return int(::cudasim::detail::shuffle(::cudasim::detail::WarpOp::kAny, mask, uint32_t(pred != 0), 0, 32, loc));
}
inline int __all_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  return int(::cudasim::detail::shuffle(::cudasim::detail::WarpOp::kAll, mask, uint32_t(pred != 0), 0, 32, loc));
}
inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location loc = std::source_location::current()) {
  ::cudasim::detail::shuffle(::cudasim::detail::WarpOp::kSyncwarp, mask, uint32_t(0), 0, 32, loc);
}

// ---- atomics (one host thread runs a block, but atomics stay atomic for the race checker) ------
template <class T>
T atomicAdd(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_add(v, std::memory_order_relaxed);
}
template <class T>
T atomicSub(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_sub(v, std::memory_order_relaxed);
}
template <class T>
T atomicExch(T* p, T v) {
  return std::atomic_ref<T>(*p).exchange(v, std::memory_order_relaxed);
}
template <class T>
T atomicCAS(T* p, T expected, T desired) {
  std::atomic_ref<T>(*p).compare_exchange_strong(expected, desired, std::memory_order_relaxed);
  return expected;  // the old value either way
}
template <class T>
T atomicMax(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T old = a.load(std::memory_order_relaxed);
  while (old < v && !a.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
  }
  return old;
}
template <class T>
T atomicMin(T* p, T v) {
  std::atomic_ref<T> a(*p);
  T old = a.load(std::memory_order_relaxed);
  while (v < old && !a.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
  }
  return old;
}
template <class T>
T atomicAnd(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_and(v, std::memory_order_relaxed);
}
template <class T>
T atomicOr(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_or(v, std::memory_order_relaxed);
}
template <class T>
T atomicXor(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_xor(v, std::memory_order_relaxed);
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- math --------------------------------------------------------------------------------------
// The _rn intrinsics are single IEEE operations (the simulator is compiled with -ffp-contract=off,
// so nothing is fused behind their back); the fast ones (__expf ...) use the accurate functions.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __expf(float a) { return std::exp(a); }
inline float __logf(float a) { return std::log(a); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float a) { return 1.0f / std::sqrt(a); }
inline float __saturatef(float a) { return a < 0.f ? 0.f : (a > 1.f ? 1.f : a); }
inline int __popc(unsigned x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(int x) { return std::countl_zero(unsigned(x)); }
inline int __ffs(int x) { return x == 0 ? 0 : std::countr_zero(unsigned(x)) + 1; }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
template <class T>
T __ldg(const T* p) {
  return *p;
}

// CUDA's global min/max accept mixed arithmetic types (the usual conversions apply).
template <class A, class B>
  requires std::is_arithmetic_v<A> && std::is_arithmetic_v<B>
constexpr std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B>
  requires std::is_arithmetic_v<A> && std::is_arithmetic_v<B>
constexpr std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return C(a) < C(b) ? C(b) : C(a);
}

// A device-side abort: ends the launch with an error naming the kernel, block and thread.
[[noreturn]] inline void __trap(std::source_location loc = std::source_location::current()) {
  ::cudasim::detail::trap(loc);
}

}  // namespace cudasim::api
