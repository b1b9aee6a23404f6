// tests/data/test_bpe_pretokenize.cpp
// The hand-written GPT-2 split (data/pretokenize.h) without any files: the pieces the regex is
// known to produce for each alternative, the Unicode classes, strict UTF-8 decoding with one
// invalid code point per bad byte, and the property behind streaming huge documents: cutting at
// pretokenize_safe_cut() never changes the pieces. Runs everywhere (no GPT-2 files needed); the
// reference comparison of the same function is in test_bpe_reference.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/pretokenize.h"
#include "kernels/rng.h"

namespace {

std::vector<std::string> pieces(const std::string& s) {
  std::vector<std::string> out;
  data::Pretokenizer pre(s);
  for (std::string_view p; pre.next(&p);) out.emplace_back(p);
  return out;
}

using P = std::vector<std::string>;

TEST(Pretokenize, EachAlternative) {
  // 's|'t|'re|'ve|'m|'ll|'d: lowercase only, and 's matches even inside a longer word
  EXPECT_EQ(pieces("it's we're I'll"), (P{"it", "'s", " we", "'re", " I", "'ll"}));
  EXPECT_EQ(pieces("IT'S"), (P{"IT", "'", "S"}));
  EXPECT_EQ(pieces("'sup"), (P{"'s", "up"}));
  EXPECT_EQ(pieces("''s"), (P{"''", "s"}));  // the run of punctuation takes both quotes
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: one leading space joins the run
  EXPECT_EQ(pieces("Hello world 123 !!"), (P{"Hello", " world", " 123", " !!"}));
  EXPECT_EQ(pieces("abc123def"), (P{"abc", "123", "def"}));
  EXPECT_EQ(pieces("12345 6789"), (P{"12345", " 6789"}));
  // \s+(?!\S): a run of spaces gives its last one to the next word; at the end it stays whole
  EXPECT_EQ(pieces("a  b"), (P{"a", " ", " b"}));
  EXPECT_EQ(pieces("a   "), (P{"a", "   "}));
  EXPECT_EQ(pieces("\n\n\t"), (P{"\n\n\t"}));
  EXPECT_EQ(pieces(" \t x"), (P{" \t", " x"}));
  EXPECT_EQ(pieces("a\n\nb"), (P{"a", "\n", "\n", "b"}));  // \n is not the optional space
  EXPECT_EQ(pieces("\nb"), (P{"\n", "b"}));
  EXPECT_EQ(pieces(" "), (P{" "}));
  EXPECT_EQ(pieces(""), P{});
  // Non-ASCII classes: letters with accents, CJK letters, U+3000 is a space, U+0301 is a mark.
  EXPECT_EQ(pieces("caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87\xE3\x80\x80x"),
            (P{"caf\xC3\xA9", " \xE4\xB8\xAD\xE6\x96\x87", "\xE3\x80\x80", "x"}));
  EXPECT_EQ(pieces("e\xCC\x81t"), (P{"e", "\xCC\x81", "t"}));
  // NEL is white space, BOM is not (tiktoken's classes): " \u0085a" backs the space run off one
  // code point, which is NEL, not ' ', so NEL stands alone; a BOM starts an "other" run.
  EXPECT_EQ(pieces("x\xC2\x85y"), (P{"x", "\xC2\x85", "y"}));
  EXPECT_EQ(pieces(" \xC2\x85" "a"), (P{" ", "\xC2\x85", "a"}));
  EXPECT_EQ(pieces("a\xC2\x85\xC2\x85 b"), (P{"a", "\xC2\x85\xC2\x85", " b"}));
  EXPECT_EQ(pieces("\xC2\x85"), (P{"\xC2\x85"}));
  EXPECT_EQ(pieces("\xEF\xBB\xBFHello"), (P{"\xEF\xBB\xBF", "Hello"}));
  EXPECT_EQ(pieces("a \xEF\xBB\xBF!b"), (P{"a", " \xEF\xBB\xBF!", "b"}));
  EXPECT_EQ(pieces("\x1C\x1Dx"), (P{"\x1C\x1D", "x"}));
  // Invalid bytes are "other": they join punctuation, never letters.
  EXPECT_EQ(pieces("ab\xFF!c \xFF"), (P{"ab", "\xFF!", "c", " \xFF"}));
}

TEST(Pretokenize, CharClasses) {
  using data::CharClass;
  EXPECT_EQ(data::char_class('a'), CharClass::kLetter);
  EXPECT_EQ(data::char_class('7'), CharClass::kNumber);
  EXPECT_EQ(data::char_class('\v'), CharClass::kSpace);
  // \s is Unicode's White_Space, as in tiktoken and OpenAI's regex (not JavaScript's \s, which
  // has U+FEFF and lacks U+0085).
  EXPECT_EQ(data::char_class(0x1C), CharClass::kOther);    // information separators: not White_Space
  EXPECT_EQ(data::char_class(0x1F), CharClass::kOther);
  EXPECT_EQ(data::char_class(0x85), CharClass::kSpace);    // NEL
  EXPECT_EQ(data::char_class(0xA0), CharClass::kSpace);    // NBSP
  EXPECT_EQ(data::char_class(0xFEFF), CharClass::kOther);  // BOM / zero-width no-break space (Cf)
  EXPECT_EQ(data::char_class(0x180E), CharClass::kOther);  // Mongolian vowel separator (Cf since 6.3)
  EXPECT_EQ(data::char_class(0x200B), CharClass::kOther);  // zero-width space (Cf)
  EXPECT_EQ(data::char_class(0x2028), CharClass::kSpace);  // line separator
  EXPECT_EQ(data::char_class(0x202F), CharClass::kSpace);  // narrow NBSP
  EXPECT_EQ(data::char_class(0x3000), CharClass::kSpace);  // ideographic space
  // tiktoken's regex knows Unicode 16.0: Ol Onal (16.0) is a letter, CJK extension J (17.0) is not.
  EXPECT_EQ(data::char_class(0x1E5D0), CharClass::kLetter);
  EXPECT_EQ(data::char_class(0x323B0), CharClass::kOther);
  EXPECT_EQ(data::char_class(0xAA), CharClass::kLetter);   // ª
  EXPECT_EQ(data::char_class(0xBD), CharClass::kNumber);   // ½
  EXPECT_EQ(data::char_class(0x2167), CharClass::kNumber); // Ⅷ (Nl)
  EXPECT_EQ(data::char_class(0x4E2D), CharClass::kLetter); // 中
  EXPECT_EQ(data::char_class(0x1F30D), CharClass::kOther); // 🌍
  EXPECT_EQ(data::char_class(0x1D7CE), CharClass::kNumber);  // 𝟎 above the BMP table
  EXPECT_EQ(data::char_class(0x20000), CharClass::kLetter);  // CJK extension B
  EXPECT_EQ(data::char_class(data::kInvalidCodePoint), CharClass::kOther);
}

TEST(Pretokenize, StrictUtf8OneInvalidByteAtATime) {
  struct Case {
    std::string bytes;
    uint32_t cp, len;
  };
  const std::vector<Case> cases = {
      {"A", 'A', 1},        {"\xC3\xA9", 0xE9, 2},  {"\xE2\x82\xAC", 0x20AC, 3}, {"\xF0\x9F\x8C\x8D", 0x1F30D, 4},
      {"\xF4\x8F\xBF\xBF", 0x10FFFF, 4},
      {"\x80", data::kInvalidCodePoint, 1},          // continuation byte first
      {"\xC0\xAF", data::kInvalidCodePoint, 1},      // overlong '/'
      {"\xE0\x80\xAF", data::kInvalidCodePoint, 1},  // overlong
      {"\xED\xA0\x80", data::kInvalidCodePoint, 1},  // surrogate U+D800
      {"\xF4\x90\x80\x80", data::kInvalidCodePoint, 1},  // U+110000
      {"\xE2\x82", data::kInvalidCodePoint, 1},      // truncated
      {"\xF8\x88\x80\x80\x80", data::kInvalidCodePoint, 1},
  };
  for (const Case& c : cases) {
    const data::CodePoint d = data::decode_utf8(c.bytes, 0);
    EXPECT_EQ(d.cp, c.cp) << c.bytes;
    EXPECT_EQ(d.len, c.len) << c.bytes;
  }
}

TEST(Pretokenize, SafeCutNeverChangesThePieces) {
  const std::vector<std::string> frags = {" ", "  ", "\n", "\t", "'s", "'", "ab", "Z", "9", "!", "\xC3\xA9",
                                          "\xE3\x80\x80", "\xC2\xA0", "\xFF", "\xE2\x82", "x y", ". ", "\xF0\x9F\x8C\x8D"};
  int cuts = 0;
  for (uint64_t c = 0; c < 2000; ++c) {
    const uint64_t key = kernels::mix(c, kernels::Purpose::kTest, 91);
    std::string s;
    for (size_t k = 0, n = 1 + kernels::hash64(key) % 30; k < n; ++k) s += frags[kernels::hash64(key + 1 + k) % frags.size()];
    const size_t p = data::pretokenize_safe_cut(s);
    if (p == 0) continue;
    ++cuts;
    ASSERT_LT(p, s.size());
    P joined = pieces(s.substr(0, p));
    for (const std::string& q : pieces(s.substr(p))) joined.push_back(q);
    EXPECT_EQ(joined, pieces(s)) << "cut at " << p << " of '" << s << "'";
  }
  EXPECT_GT(cuts, 1000);
  EXPECT_EQ(data::pretokenize_safe_cut("a b"), 1u);
  EXPECT_EQ(data::pretokenize_safe_cut("a  b"), 1u);   // not 2: the space before is white space
  EXPECT_EQ(data::pretokenize_safe_cut("\xC3\xA9 b"), 0u);  // only after an ASCII byte
  EXPECT_EQ(data::pretokenize_safe_cut("abc"), 0u);
  // Rule 2, between classes without white space: after the ideographic full stop (other) before
  // a letter; before an apostrophe but never after one ("'s" may be a contraction); not beside
  // bytes that are not a whole code point.
  EXPECT_EQ(data::pretokenize_safe_cut("\xE4\xB8\xAD\xE6\x96\x87\xE3\x80\x82\xE6\x97\xA5\xE6\x9C\xAC"), 9u);
  EXPECT_EQ(data::pretokenize_safe_cut("x's"), 1u);
  EXPECT_EQ(data::pretokenize_safe_cut("ab12"), 2u);
  EXPECT_EQ(data::pretokenize_safe_cut("ab\xE6\x97"), 0u);   // a truncated character at the end
  EXPECT_EQ(data::pretokenize_safe_cut("ab\xFF!"), 0u);       // an invalid byte is not cut next to
}

}  // namespace
