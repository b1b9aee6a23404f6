// data/pretokenize.h
// GPT-2's pre-tokenizer: the split pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// written out by hand over UTF-8 code points, plus the Unicode classes it needs. Byte-level BPE
// (data/tokenizer_gpt2.cpp) runs on each piece separately, so these boundaries decide the ids.
//
// Called by the GPT-2 tokenizer and by the prepare reader (pretokenize_safe_cut, to feed a huge
// document in slices). Does not allocate, does not know about BPE or ids.
//
// Invalid UTF-8 never fails: every byte that does not start a well-formed sequence (Unicode 15
// Table 3-7: no overlongs, no surrogates, nothing past U+10FFFF) is one code point of its own, of
// class kOther. That is the class the reference encoder gives U+FFFD, which is what it sees after
// decoding such bytes, so the pieces fall at the same byte positions as the reference's (see
// tests/data/test_bpe_reference.cpp); the bytes themselves are kept, so decoding is lossless.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace data {

// Disjoint classes of the pattern: \p{L}, \p{N}, \s (JavaScript's), and everything else.
enum class CharClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };

CharClass char_class(uint32_t cp);

// Code point sentinel for a byte that is not valid UTF-8 (class kOther, length 1).
inline constexpr uint32_t kInvalidCodePoint = 0xFFFFFFFFu;

struct CodePoint {
  uint32_t cp;     // the code point, or kInvalidCodePoint
  uint32_t len;    // bytes it occupies: 1..4
  CharClass cls;
};

// Classes of the 128 ASCII code points (the fast path of everything below).
extern const std::array<CharClass, 128> kAsciiClass;

CodePoint decode_utf8_multibyte(std::string_view text, size_t pos);  // text[pos] >= 0x80

// Decodes the code point starting at text[pos] (pos < text.size()). Inline for the ASCII case,
// which is most bytes of most text.
inline CodePoint decode_utf8(std::string_view text, size_t pos) {
  const unsigned char b = static_cast<unsigned char>(text[pos]);
  if (b < 0x80) return {b, 1, kAsciiClass[b]};
  return decode_utf8_multibyte(text, pos);
}

// Iterates over the pieces of `text` in order; the pieces are non-empty and cover text exactly.
//   Pretokenizer pre(text);
//   for (std::string_view piece; pre.next(&piece);) { ... }
class Pretokenizer {
 public:
  explicit Pretokenizer(std::string_view text) : text_(text) {}
  bool next(std::string_view* piece);

 private:
  size_t run_end(size_t pos, CharClass cls) const;  // end of the run of `cls` starting at pos

  std::string_view text_;
  size_t pos_ = 0;
};

// The largest p in [1, text.size()) such that pieces(text) == pieces(text[0,p)) + pieces(text[p,))
// is guaranteed whatever follows text, or 0 when there is none. p qualifies when
//   1. text[p] is an ASCII space preceded by an ASCII byte that is not white space: there a piece
//      always ends (no piece crosses from a non-space into a following space) and the next starts
//      (" x..." depends only on what comes after); or
//   2. the code points on either side of p are whole, of different classes (letter, number,
//      other), neither is white space and the left one is not an apostrophe: the run of the left
//      class ends at p whatever follows, and the piece starting at p cannot take a space before it
//      or be the tail of a contraction. This is what lets text without ASCII spaces (Chinese,
//      Japanese, a minified file) be cut at punctuation.
// Only a single piece longer than the slice (a run of one class with no break) cannot be cut.
size_t pretokenize_safe_cut(std::string_view text);

}  // namespace data
