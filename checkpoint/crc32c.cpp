// checkpoint/crc32c.cpp
// CRC32C (Castagnoli; reflected polynomial 0x82F63B78), the checksum of every checkpoint slice and
// of the manifest itself. Hand-written: a byte-wise table (the definition, kept for tests),
// slicing-by-8 (the portable fast path, ~8 bytes per table round) and, on x86 CPUs that have it,
// the SSE4.2 crc32 instruction (several GB/s, so verifying a 1.7 GB checkpoint costs well under a
// second). All three give identical results; tests compare them on random data and offsets.
//
// Called by the shard writer/reader and the manifest code. Does not know about files.
// Conventions (those of iSCSI, ext4, Snappy): initial value ~0, final xor ~0, so crc32c("123456789")
// is 0xE3069283; the `crc` argument continues a previous result (crc32c(b, crc32c(a)) == crc32c(ab)).
#include <cstring>

#include "checkpoint/checkpoint.h"
#include "checkpoint/internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define KILN_CRC32C_X86 1
#endif

namespace checkpoint {
namespace detail {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;

// tables[0] is the classic byte table; tables[k][b] is the CRC of byte b followed by k zero
// bytes, which lets slicing-by-8 fold eight bytes with eight independent lookups.
struct Tables {
  uint32_t t[8][256];
  constexpr Tables() : t{} {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b)
      for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xffu];
  }
};
constexpr Tables kTables;

}  // namespace

uint32_t crc32c_bytewise(const void* data, size_t bytes, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  for (size_t i = 0; i < bytes; ++i) c = (c >> 8) ^ kTables.t[0][(c ^ p[i]) & 0xffu];
  return ~c;
}

uint32_t crc32c_slicing8(const void* data, size_t bytes, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  // Little-endian loads: the low byte of `lo` is the first byte in memory, which is the one the
  // reflected CRC consumes first. kiln only builds for little-endian hosts (x86-64, aarch64).
  while (bytes >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = kTables.t[7][lo & 0xff] ^ kTables.t[6][(lo >> 8) & 0xff] ^ kTables.t[5][(lo >> 16) & 0xff] ^
        kTables.t[4][lo >> 24] ^ kTables.t[3][hi & 0xff] ^ kTables.t[2][(hi >> 8) & 0xff] ^
        kTables.t[1][(hi >> 16) & 0xff] ^ kTables.t[0][hi >> 24];
    p += 8;
    bytes -= 8;
  }
  while (bytes-- > 0) c = (c >> 8) ^ kTables.t[0][(c ^ *p++) & 0xffu];
  return ~c;
}

#if KILN_CRC32C_X86
bool crc32c_hw_available() {
  static const bool ok = __builtin_cpu_supports("sse4.2");
  return ok;
}

// Compiled for SSE4.2 on its own (target attribute) so the rest of kiln keeps the baseline ISA;
// only called after crc32c_hw_available() said yes.
__attribute__((target("sse4.2"))) uint32_t crc32c_hw(const void* data, size_t bytes, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~crc;
  while (bytes >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    bytes -= 8;
  }
  uint32_t c32 = uint32_t(c);
  while (bytes-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}
#else
bool crc32c_hw_available() { return false; }
uint32_t crc32c_hw(const void* data, size_t bytes, uint32_t crc) { return crc32c_slicing8(data, bytes, crc); }
#endif

}  // namespace detail

uint32_t crc32c(const void* data, size_t bytes, uint32_t crc) {
  if (detail::crc32c_hw_available()) return detail::crc32c_hw(data, bytes, crc);
  return detail::crc32c_slicing8(data, bytes, crc);
}

}  // namespace checkpoint
