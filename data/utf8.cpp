// data/utf8.cpp
#include "data/utf8.h"

namespace data {

namespace {
// Allowed range of the second byte after lead b (Unicode Table 3-7); later bytes are 80..BF.
void second_byte_range(unsigned b, unsigned* lo, unsigned* hi) {
  *lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
  *hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
}
int continuation_count(unsigned b) {  // -1: not a valid lead byte
  if (b < 0x80) return 0;
  if (b >= 0xC2 && b <= 0xDF) return 1;
  if (b >= 0xE0 && b <= 0xEF) return 2;
  if (b >= 0xF0 && b <= 0xF4) return 3;
  return -1;
}
}  // namespace

bool utf8_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned b = static_cast<unsigned char>(s[i]);
    const int need = continuation_count(b);
    if (need == 0) {
      ++i;
      continue;
    }
    if (need < 0 || i + size_t(need) >= s.size()) return false;  // bad lead, or truncated at the end
    unsigned lo, hi;
    second_byte_range(b, &lo, &hi);
    for (int k = 1; k <= need; ++k) {
      const unsigned c = static_cast<unsigned char>(s[i + size_t(k)]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return false;
    }
    i += size_t(need) + 1;
  }
  return true;
}

std::string utf8_replace_invalid(std::string_view s) {
  static const char kFffd[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const unsigned b = static_cast<unsigned char>(s[i]);
    const int need = continuation_count(b);
    if (need == 0) {
      out += char(b);
      ++i;
      continue;
    }
    if (need < 0) {  // a byte that can never start a sequence: one replacement, move on
      out += kFffd;
      ++i;
      continue;
    }
    unsigned lo, hi;
    second_byte_range(b, &lo, &hi);
    // Consume the longest prefix that could still be well formed (the maximal subpart).
    int got = 0;
    while (got < need && i + 1 + size_t(got) < s.size()) {
      const unsigned c = static_cast<unsigned char>(s[i + 1 + size_t(got)]);
      if (c < (got == 0 ? lo : 0x80) || c > (got == 0 ? hi : 0xBF)) break;
      ++got;
    }
    if (got == need) {
      out.append(s.substr(i, size_t(need) + 1));
    } else {
      out += kFffd;  // the bytes after the subpart are looked at again as a new start
    }
    i += size_t(got) + 1;
  }
  return out;
}

}  // namespace data
