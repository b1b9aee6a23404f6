// kernels/dtype.h
// Element types kiln stores tensors in, and host-side bf16/fp16 with round-to-nearest-even.
//
// bf16 and fp16 here are plain 16-bit storage types with conversions to and from float; all
// arithmetic happens in float (or double). They are bit-compatible with CUDA's __nv_bfloat16 and
// __half, so a buffer written on the host can be read on the device and back.
// Conversions round to nearest, ties to even; NaN stays NaN; float overflow to fp16 gives inf.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__CUDACC__)
#define KILN_HD __host__ __device__
#else
#define KILN_HD
#endif

namespace kernels {

enum class DType : uint8_t { F32, F64, BF16, F16, I32, U16, U32 };

inline size_t dtype_size(DType d) {
  switch (d) {
    case DType::F64: return 8;
    case DType::F32: case DType::I32: case DType::U32: return 4;
    case DType::BF16: case DType::F16: case DType::U16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "fp32";
    case DType::F64: return "fp64";
    case DType::BF16: return "bf16";
    case DType::F16: return "fp16";
    case DType::I32: return "int32";
    case DType::U16: return "uint16";
    case DType::U32: return "uint32";
  }
  return "?";
}

inline bool dtype_is_float(DType d) {
  return d == DType::F32 || d == DType::F64 || d == DType::BF16 || d == DType::F16;
}

KILN_HD inline uint32_t float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
KILN_HD inline float bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// bfloat16: the top 16 bits of an IEEE float, rounded to nearest even.
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  KILN_HD explicit bf16(float f) : bits(from_float(f)) {}
  KILN_HD explicit operator float() const { return bits_float(uint32_t(bits) << 16); }
  KILN_HD static uint16_t from_float(float f) {
    const uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
    const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);                       // ties to even
    return uint16_t((u + rounding) >> 16);
  }
};

// IEEE binary16: 1 sign, 5 exponent, 10 mantissa bits. Subnormals supported both ways.
struct fp16 {
  uint16_t bits = 0;
  fp16() = default;
  KILN_HD explicit fp16(float f) : bits(from_float(f)) {}
  KILN_HD explicit operator float() const { return to_float(bits); }

  KILN_HD static uint16_t from_float(float f) {
    const uint32_t u = float_bits(f);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const uint32_t absu = u & 0x7fffffffu;
    if (absu > 0x7f800000u) return uint16_t(sign | 0x7e00u);              // NaN
    if (absu >= 0x477ff000u) return uint16_t(sign | 0x7c00u);             // rounds to >= 65520: inf
    if (absu >= 0x38800000u) {                                            // normal half
      const uint32_t mant_round = absu + 0xfffu + ((absu >> 13) & 1u);    // RNE at bit 13
      return uint16_t(sign | ((mant_round - 0x38000000u) >> 13));
    }
    // Subnormal half (or zero): value = m * 2^-24. Shift the full significand with RNE.
    if (absu < 0x33000000u) return uint16_t(sign);                        // < 2^-25: rounds to 0
    const uint32_t exp = absu >> 23;                                      // biased, 102..112
    const uint32_t sig = (absu & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp;                                    // 14..24
    uint32_t m = sig >> shift;
    const uint32_t rem = sig & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (m & 1u))) ++m;
    return uint16_t(sign | m);
  }
  KILN_HD static float to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1fu) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf / NaN
    if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return bits_float(sign);
    // subnormal: normalise
    const float v = float(mant) * 5.9604644775390625e-8f;                 // 2^-24
    return sign ? -v : v;
  }
};

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<bf16>() { return DType::BF16; }
template <> constexpr DType dtype_of<fp16>() { return DType::F16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::U16; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::U32; }

// Rounds a float to the nearest value representable in `d` (identity for F32/F64).
inline float round_to(DType d, float x) {
  if (d == DType::BF16) return float(bf16(x));
  if (d == DType::F16) return float(fp16(x));
  return x;
}

// Parses "fp32" | "bf16" | "fp16" (the config spelling). Returns false for anything else.
inline bool parse_precision(const std::string& s, DType* out) {
  if (s == "fp32") { *out = DType::F32; return true; }
  if (s == "bf16") { *out = DType::BF16; return true; }
  if (s == "fp16") { *out = DType::F16; return true; }
  return false;
}

}  // namespace kernels
