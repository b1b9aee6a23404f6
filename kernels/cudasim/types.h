// kernels/cudasim/types.h
// CUDA's vector and 16-bit float types for the simulator build: dim3, uint3, float2/float4 (with
// CUDA's alignment, so reinterpret_casts in kernels behave as on the GPU), __nv_bfloat16 and __half
// (bit layouts of kernels::bf16 / fp16, round-to-nearest-even conversions) and their conversion
// intrinsics. Included through kernels/cudasim/cuda_spellings.h. Not here: anything that needs a
// running simulated thread (device_api.h).
//
// Everything the simulator offers under CUDA's names lives in namespace cudasim::api (never the
// global namespace, where it would collide with the real CUDA runtime and libraries linked into
// the same binary); kernels/cuda/compat.cuh makes it visible inside kernels::cuda.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/dtype.h"

namespace cudasim::api {

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};

struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(16) double2 {
  double x, y;
};

inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

// 16-bit floats: storage plus the conversions CUDA offers on both host and device.
struct __nv_bfloat16 {
  unsigned short __x = 0;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(kernels::bf16::from_float(f)) {}
  operator float() const { return kernels::bits_float(uint32_t(__x) << 16); }
};
struct __half {
  unsigned short __x = 0;
  __half() = default;
  __half(float f) : __x(kernels::fp16::from_float(f)) {}
  operator float() const { return kernels::fp16::to_float(__x); }
};
static_assert(sizeof(__nv_bfloat16) == 2 && sizeof(__half) == 2, "16-bit float layouts");

inline float __bfloat162float(__nv_bfloat16 x) { return float(x); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __half2float(__half x) { return float(x); }
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 x) { return x.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) {
  __nv_bfloat16 b;
  b.__x = u;
  return b;
}
inline unsigned short __half_as_ushort(__half x) { return x.__x; }
inline __half __ushort_as_half(unsigned short u) {
  __half h;
  h.__x = u;
  return h;
}

// Bit reinterpretations.
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace cudasim::api

namespace cudasim {
using namespace api;  // the simulator's own code uses the CUDA names unqualified too
}  // namespace cudasim
