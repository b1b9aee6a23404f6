// data/pretokenize.cpp
// The GPT-2 split pattern (data/pretokenize.h) as a hand-written matcher. Each branch below is one
// alternative of the regex, tried in the regex's order, so the first alternative that matches at
// a position wins exactly as in a backtracking engine; the comments name the alternative.
//
// Called per document by the GPT-2 tokenizer, so the ASCII path is a table lookup and non-ASCII
// classes come from a 64 KiB table for the Basic Multilingual Plane, built once from the generated
// ranges in data/pretokenize_tables.h (binary search above U+FFFF).
#include "data/pretokenize.h"

#include <array>

#include "data/pretokenize_tables.h"

namespace data {
namespace {

using unicode_tables::Range;

template <size_t N>
constexpr bool in_ranges(const Range (&ranges)[N], uint32_t cp) {
  // First range whose hi >= cp; the ranges are sorted and disjoint.
  size_t lo = 0, hi = N;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (ranges[mid].hi < cp) lo = mid + 1; else hi = mid;
  }
  return lo < N && ranges[lo].lo <= cp;
}

constexpr CharClass class_by_search(uint32_t cp) {
  if (in_ranges(unicode_tables::kSpace, cp)) return CharClass::kSpace;
  if (in_ranges(unicode_tables::kLetter, cp)) return CharClass::kLetter;
  if (in_ranges(unicode_tables::kNumber, cp)) return CharClass::kNumber;
  return CharClass::kOther;
}

// ASCII classes straight from the generated tables, so the fast path cannot disagree with them.
constexpr std::array<CharClass, 128> make_ascii() {
  std::array<CharClass, 128> t{};
  for (uint32_t c = 0; c < 128; ++c) t[c] = class_by_search(c);
  return t;
}

const std::array<CharClass, 0x10000>& bmp_table() {
  // Built on first use (thread-safe static initialisation); ~1 ms once per process.
  static const auto* table = [] {
    auto* t = new std::array<CharClass, 0x10000>();
    t->fill(CharClass::kOther);
    const auto paint = [t](const auto& ranges, CharClass c) {
      for (const Range& r : ranges) {
        for (uint32_t cp = r.lo; cp <= r.hi && cp < 0x10000; ++cp) (*t)[cp] = c;
      }
    };
    paint(unicode_tables::kLetter, CharClass::kLetter);
    paint(unicode_tables::kNumber, CharClass::kNumber);
    paint(unicode_tables::kSpace, CharClass::kSpace);
    return t;
  }();
  return *table;
}

inline bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

}  // namespace

const std::array<CharClass, 128> kAsciiClass = make_ascii();

CharClass char_class(uint32_t cp) {
  if (cp < 0x80) return kAsciiClass[cp];
  if (cp < 0x10000) return bmp_table()[cp];
  if (cp > 0x10FFFF) return CharClass::kOther;  // includes kInvalidCodePoint
  return class_by_search(cp);
}

CodePoint decode_utf8_multibyte(std::string_view text, size_t pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t left = text.size() - pos;
  const unsigned char b0 = s[0];
  // Well-formed sequences only (Unicode Table 3-7). The second byte's allowed range depends on the
  // lead byte; that is what excludes overlongs (E0 80.., F0 80..), surrogates (ED A0..) and
  // values past U+10FFFF (F4 90..). Anything else: this one byte is an invalid code point.
  uint32_t len = 0, cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  }
  if (len == 0 || left < len || s[1] < lo || s[1] > hi) return {kInvalidCodePoint, 1, CharClass::kOther};
  for (uint32_t i = 1; i < len; ++i) {
    if (!is_cont(s[i])) return {kInvalidCodePoint, 1, CharClass::kOther};
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  return {cp, len, char_class(cp)};
}

size_t Pretokenizer::run_end(size_t pos, CharClass cls) const {
  while (pos < text_.size()) {
    const unsigned char b = static_cast<unsigned char>(text_[pos]);
    if (b < 0x80) {
      if (kAsciiClass[b] != cls) break;
      ++pos;
      continue;
    }
    const CodePoint c = decode_utf8(text_, pos);
    if (c.cls != cls) break;
    pos += c.len;
  }
  return pos;
}

bool Pretokenizer::next(std::string_view* piece) {
  const size_t n = text_.size(), start = pos_;
  if (start >= n) return false;
  const CodePoint c = decode_utf8(text_, start);
  size_t end = 0;

  // 's|'t|'re|'ve|'m|'ll|'d   (case-sensitive: "'S" is not a contraction, as in GPT-2)
  if (c.cp == '\'' && start + 1 < n) {
    const char a = text_[start + 1], b = start + 2 < n ? text_[start + 2] : '\0';
    if (a == 's' || a == 't' || a == 'm' || a == 'd') {
      end = start + 2;
    } else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
      end = start + 3;
    }
  }
  if (end == 0 && c.cp == ' ' && start + 1 < n) {
    //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+   with the optional space taken: the class of the
    // next code point picks the alternative; a following space falls through to the \s rules.
    const CodePoint d = decode_utf8(text_, start + 1);
    if (d.cls != CharClass::kSpace) end = run_end(start + 1 + d.len, d.cls);
  }
  if (end == 0 && c.cls != CharClass::kSpace) {
    // The same three alternatives without the space (a lone ' before a non-contraction lands here).
    end = run_end(start + c.len, c.cls);
  }
  if (end == 0) {
    // \s+(?!\S) | \s+ : the greedy run backs off one code point when a non-space follows, so that
    // last space can lead the next word (" world"); a run of one, or a run at the end, is whole.
    size_t last = start, p = start + c.len;
    while (p < n) {
      const CodePoint w = decode_utf8(text_, p);
      if (w.cls != CharClass::kSpace) break;
      last = p;
      p += w.len;
    }
    end = (p < n && last > start) ? last : p;
  }
  *piece = text_.substr(start, end - start);
  pos_ = end;
  return true;
}

size_t pretokenize_safe_cut(std::string_view text) {
  // From the end, over code point boundaries (continuation bytes never start one).
  for (size_t p = text.size() > 0 ? text.size() - 1 : 0; p >= 1; --p) {
    const unsigned char b = static_cast<unsigned char>(text[p]);
    if (is_cont(b)) continue;
    if (b == ' ') {  // rule 1
      const unsigned char prev = static_cast<unsigned char>(text[p - 1]);
      if (prev < 0x80 && kAsciiClass[prev] != CharClass::kSpace) return p;
      continue;
    }
    // Rule 2: two well-formed code points of different classes, neither white space, the left one
    // not an apostrophe. Bytes that are not (yet) a whole code point are never cut next to.
    const CodePoint right = decode_utf8(text, p);
    if (right.cp == kInvalidCodePoint || right.cls == CharClass::kSpace) continue;
    size_t q = p - 1;
    while (q > 0 && p - q < 4 && is_cont(static_cast<unsigned char>(text[q]))) --q;
    const CodePoint left = decode_utf8(text, q);
    if (left.cp == kInvalidCodePoint || q + left.len != p || left.cls == CharClass::kSpace || left.cp == '\'') continue;
    if (left.cls != right.cls) return p;
  }
  return 0;
}

}  // namespace data
