// kernels/rng.h
// Counter-based randomness: every random number is a pure function of its coordinates.
//
// There is no global generator. A consumer derives a key from (seed, purpose, indices...) with
// mix(), then asks for element i of that stream with uniform01(key, i) / normal(key, i). Because
// nothing depends on call order, the same weights and data order come out under any parallel
// layout and after any resume (ARCHITECTURE principle 7).
#pragma once

#include <cmath>
#include <cstdint>

namespace kernels {

enum class Purpose : uint64_t { kInit = 1, kShuffle = 2, kSample = 3, kDropout = 4, kTest = 5 };

// SplitMix64 finaliser: a bijective, well-mixed 64-bit hash.
inline uint64_t hash64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t mix(uint64_t a) { return hash64(a); }
template <class... Rest>
inline uint64_t mix(uint64_t a, uint64_t b, Rest... rest) {
  return mix(hash64(a) ^ (b + 0x632be59bd9b4e019ull + (a << 6) + (a >> 2)), uint64_t(rest)...);
}
template <class... Rest>
inline uint64_t mix(uint64_t seed, Purpose p, Rest... rest) {
  return mix(seed, static_cast<uint64_t>(p), uint64_t(rest)...);
}

// Uniform in [0, 1) with 53 random bits, element i of stream `key`.
inline double uniform01(uint64_t key, uint64_t i) {
  return double(hash64(key ^ hash64(i)) >> 11) * (1.0 / 9007199254740992.0);
}

// Standard normal, element i of stream `key` (Box-Muller on two uniforms of the same element).
inline double normal(uint64_t key, uint64_t i) {
  const uint64_t h = hash64(key ^ hash64(i));
  const double u1 = (double(h >> 11) + 0.5) * (1.0 / 9007199254740992.0);       // (0,1)
  const double u2 = double(hash64(h) >> 11) * (1.0 / 9007199254740992.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace kernels
