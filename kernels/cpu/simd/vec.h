// kernels/cpu/simd/vec.h
// The vector type of one SIMD level and the handful of operations kiln's kernels need, written once
// with GCC vector extensions. Each kernels/cpu/simd/isa_*.cpp defines KILN_SIMD_NS (its namespace)
// and KILN_SIMD_WIDTH (floats per vector: 4 baseline/SSE2, 8 AVX2, 16 AVX-512) and includes the
// *_impl.h files, which include this; that file's compiler flags (-mavx2 -mfma, -mavx512f ...)
// choose the instructions. tests/kernels/simd_w16_on_avx2.cpp compiles the same code at width 16
// with AVX2 flags, so the AVX-512 algorithm (lane count, tails, reductions) is tested on any AVX2
// machine too.
//
// The ODR trap of per-level files: an inline function shared with other files (anything from a
// kiln or std header) compiled here with -mavx512f could be the copy the linker keeps for every
// caller, and crash a CPU without AVX-512. So everything below is `static inline` in a per-level
// namespace, and the *_impl.h files call only these, compiler builtins and C functions (logf).
#pragma once

#if !defined(KILN_SIMD_NS) || !defined(KILN_SIMD_WIDTH)
#error "vec.h is included by kernels/cpu/simd/isa_*.cpp, which define KILN_SIMD_NS and KILN_SIMD_WIDTH"
#endif

#include <immintrin.h>
#include <omp.h>

#include <cstdint>
#include <utility>

namespace kernels::cpu::simd::KILN_SIMD_NS {

constexpr int kW = KILN_SIMD_WIDTH;  // floats per vector
typedef float vf __attribute__((vector_size(4 * KILN_SIMD_WIDTH)));
typedef int32_t vi __attribute__((vector_size(4 * KILN_SIMD_WIDTH)));
typedef double vdh __attribute__((vector_size(4 * KILN_SIMD_WIDTH)));  // kW/2 doubles: one register
typedef float vfh __attribute__((vector_size(2 * KILN_SIMD_WIDTH)));   // kW/2 floats

// x - 0 (not 0 + x) so the compiler may drop the arithmetic: x - 0 == x for every x, -0 included.
static inline vf splat(float x) { return x - vf{}; }
static inline vf load(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof v);  // unaligned load
  return v;
}
static inline void store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof v); }
// The first n (0 <= n < kW) floats of p, the other lanes `fill` (0 for sums, -inf for maxima).
static inline vf load_part(const float* p, int64_t n, float fill) {
  vf v = splat(fill);
  __builtin_memcpy(&v, p, size_t(n) * sizeof(float));
  return v;
}
static inline void store_part(float* p, vf v, int64_t n) { __builtin_memcpy(p, &v, size_t(n) * sizeof(float)); }

// Lane-wise; a comparison gives -1 (all bits) or 0 per lane, and `mask ? a : b` selects.
// vmax(a, b) = a > b ? a : b and vmin(a, b) = a < b ? a : b exactly, so a NaN in b comes out (the
// semantics of the max/min instructions, which the compiler does not pick from the plain select).
static inline vf vmax(vf a, vf b) {
#if KILN_SIMD_WIDTH == 16 && defined(__AVX512F__)
  return _mm512_maskz_max_ps(__mmask16(0xFFFF), a, b);  // (unmasked form: GCC 12 -Wmaybe-uninitialized)
#elif KILN_SIMD_WIDTH == 8 && defined(__AVX__)
  return _mm256_max_ps(a, b);
#elif KILN_SIMD_WIDTH == 4
  return _mm_max_ps(a, b);
#else
  return a > b ? a : b;
#endif
}
static inline vf vmin(vf a, vf b) {
#if KILN_SIMD_WIDTH == 16 && defined(__AVX512F__)
  return _mm512_maskz_min_ps(__mmask16(0xFFFF), a, b);
#elif KILN_SIMD_WIDTH == 8 && defined(__AVX__)
  return _mm256_min_ps(a, b);
#elif KILN_SIMD_WIDTH == 4
  return _mm_min_ps(a, b);
#else
  return a < b ? a : b;
#endif
}
static inline vi bits(vf v) { return (vi)v; }       // reinterpret, no conversion
static inline vf from_bits(vi v) { return (vf)v; }  // reinterpret, no conversion

static inline vf vsqrt(vf v) {
#if KILN_SIMD_WIDTH == 16 && defined(__AVX512F__)
  return _mm512_maskz_sqrt_ps(__mmask16(0xFFFF), v);  // (the unmasked form trips GCC 12 -Wmaybe-uninitialized)
#elif KILN_SIMD_WIDTH == 8 && defined(__AVX__)
  return _mm256_sqrt_ps(v);
#elif KILN_SIMD_WIDTH == 4
  return _mm_sqrt_ps(v);
#else
  for (int i = 0; i < kW; ++i) v[i] = __builtin_sqrtf(v[i]);  // widths emulated on narrower hardware
  return v;
#endif
}

// Horizontal reductions in a fixed pairwise order (lane i with lane i + kW/2, then halves again),
// so a row's sum is the same on every run; it differs between levels only by that order.
static inline float hsum(vf v) {
  for (int w = kW / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) v[i] += v[i + w];
  return v[0];
}
// kW fp64 lanes held as two registers, lo (lanes 0 .. kW/2-1) and hi: summed in hsum's order (lane
// i with lane i + kW/2 is lo + hi, then halves again).
static inline double hsum(vdh lo, vdh hi) {
  vdh v = lo + hi;
  for (int w = kW / 4; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) v[i] += v[i + w];
  return v[0];
}

// The squares of v's lanes in fp64, added lane by lane to lo (lanes 0 .. kW/2-1) and hi (the rest).
// (One kW-double vector type instead spans two registers, which GCC 12 moved through the stack on
// every add: sum_squares ran ~10x slower.)
template <int... I>
static inline void add_squares_f64(vdh& lo, vdh& hi, vf v, std::integer_sequence<int, I...>) {
  const vdh l = __builtin_convertvector(vfh{v[I]...}, vdh), h = __builtin_convertvector(vfh{v[I + kW / 2]...}, vdh);
  lo += l * l;
  hi += h * h;
}
static inline void add_squares_f64(vdh& lo, vdh& hi, vf v) {
  add_squares_f64(lo, hi, v, std::make_integer_sequence<int, kW / 2>{});
}
static inline float hmax(vf v) {
  for (int w = kW / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) v[i] = v[i] > v[i + w] ? v[i] : v[i + w];
  return v[0];
}

static inline int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }

// Runs fn(begin, end) on one contiguous range of [0, n) per OpenMP thread (boundaries multiples of
// `align`: whole vectors, whole blocks), or fn(0, n) on the calling thread when !parallel.
// Why ranges and not `omp parallel for` around the loops themselves: inside an outlined parallel
// region the compiler reaches shared pointers through memory and, since the float stores might
// alias them, reloads them in every iteration (measured: exp ran 2x slower). fn passes them by
// value to a plain loop function, where they live in registers.
template <class Fn>
static inline void parallel_ranges(int64_t n, int64_t align, bool parallel, Fn fn) {
  if (!parallel) {
    fn(int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t units = (n + align - 1) / align, per = (units + nt - 1) / nt * align;
    const int64_t begin = min_i64(n, t * per), end = min_i64(n, begin + per);
    if (begin < end) fn(begin, end);
  }
}

}  // namespace kernels::cpu::simd::KILN_SIMD_NS
