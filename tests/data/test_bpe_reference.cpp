// tests/data/test_bpe_reference.cpp
// kiln's GPT-2 tokenizer against the reference, tiktoken's r50k_base (npm tiktoken, its Rust core
// as WASM, run by node through tests/data/tiktoken_reference.js): the character class of every
// code point equals the one tiktoken's regex engine uses; identical ids and identical pre-token
// pieces on hard cases (Unicode white space: U+0085 and U+FEFF above all), on random mixtures of
// tricky fragments, and on all of Moby-Dick (2.4 MB). For invalid UTF-8, where the reference can
// only see the U+FFFD that JavaScript decodes such bytes to, the pieces must fall at the same
// places and the ids must equal the reference's on that decoded text. Skips when node or the
// setup.sh files are missing. (bench/tiktoken_compare.sh does the same on an ~80 MB corpus.)
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "data/pretokenize.h"
#include "data/tokenizer.h"
#include "kernels/rng.h"
#include "tests/data/test_bpe_util.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;
using bpe_test::run_reference;

const std::vector<std::string> kHardCases = {
    "Hello, World! How are you today? \xF0\x9F\x8C\x8D",
    // contractions, including uppercase ones the pattern does not treat as contractions
    "I'm sure you're right; we've seen they'll say he'd go, it's fine, can't stop",
    "IT'S I'M YOU'RE HE'D THEY'LL WE'VE 'S 'T", "'sup ''s 'll've don't''t rock 'n' roll it\xE2\x80\x99s",
    // runs of spaces, newlines and tabs
    "a  b   c    d", "     leading", "trailing     ", "   ", " ", "\n\n\t", " \t ", "a \t b",
    "line1\nline2\r\nline3\n\n\nend\n", "\t\tindented\n    code();\n", "x\n \ny", "\v\f\r\n",
    std::string(100, ' ') + "x", "tab\there\t\tthere",
    // leading and trailing white space around words
    "  hello  ", "\n\nhello\n\n", " \n hello \n ", "hello ",
    // accents, precomposed and combining (U+0301 is a mark, not a letter)
    "caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 Z\xC3\xBCrich S\xC3\xA3o Paulo fa\xC3\xA7" "ade",
    "cafe\xCC\x81 e\xCC\x81t\xCC\x81", "\xC3\x85ngstr\xC3\xB6m \xC3\x98resund \xC5\x81\xC3\xB3" "d\xC5\xBA",
    // emoji: plain, ZWJ family, flags, skin tone, variation selector
    "\xF0\x9F\x8C\x8D\xF0\x9F\x8C\x8E\xF0\x9F\x8C\x8F",
    "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6 family",
    "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5 flags \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD ok \xE2\x9D\xA4\xEF\xB8\x8F",
    // CJK and other scripts
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82"
    "\xE4\xB8\xAD\xE6\x96\x87\xEF\xBC\x8C\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",
    "\xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC \xD0\xA0\xD1\x83\xD1\x81\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9 "
    "\xD7\xA2\xD7\x91\xD7\xA8\xD7\x99\xD7\xAA \xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9 "
    "\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80 \xE0\xB9\x84\xE0\xB8\x97\xE0\xB8\xA2 English",
    // digits and other numbers (Arabic-Indic, fractions, superscripts, Roman numerals)
    "12345 6789", "3.14159 1,000,000 0x1F 2024-01-01 v1.2.3", "\xD9\xA3\xD9\xA4\xD9\xA5 \xC2\xBD \xC2\xB2 \xE2\x85\xAB",
    // white space as Unicode's White_Space defines it (tiktoken, OpenAI's regex): NBSP, NEL,
    // ideographic space, line separator are \s; BOM, U+180E, U+200B and U+001C..U+001F are not
    "a\xC2\xA0" "b", "a\xE3\x80\x80" "b", "\xEF\xBB\xBF" "BOM", "a\xE2\x80\xA8" "b", "x\xC2\x85y", "\x1C\x1D\x1E\x1F",
    "\xC2\x85", " \xC2\x85", "\xC2\x85 ", " \xC2\x85" "a", "a\xC2\x85\xC2\x85 b", "\xC2\x85\xC2\x85\n", "1\xC2\x85" "2",
    "it's\xC2\x85s", "\xEF\xBB\xBF", " \xEF\xBB\xBF", "a \xEF\xBB\xBF!b", "\xEF\xBB\xBF\xEF\xBB\xBF x", "x\xEF\xBB\xBF 1",
    "\xEF\xBB\xBF\xC2\x85\xEF\xBB\xBF", "a\xE1\xA0\x8E" "b", "a\xE2\x80\x8B b", "a\xE2\x80\xAF b", "\xE2\x80\xA9\xE2\x80\xA9x",
    "a\xE3\x80\x80\xE3\x80\x80" "b", "\t\xC2\xA0 x", "\x1C x \x1F", "\r\xC2\x85\n",
    // letters of Unicode 16 (Ol Onal) and 17 (CJK extension J): tiktoken's engine knows 16.0
    " \xF0\x9E\x97\x90\xF0\x9E\x97\x91 x", " \xF0\xB2\x8E\xB0\xF0\xB2\x8E\xB1 x", "a\xF0\xB2\x8E\xB0" "b",
    // punctuation, symbols, code, control characters
    "!!!???...,,,;;; --- 'quoted' \"double\" (parens) [brackets] {braces}", "@user #tag $100 %50 ^&* ~`|\\",
    "def f(x):\n\treturn x**2  # comment\n", "{\"a\": [1, 2, 3], \"b\": \"c\"}", std::string("\x00\x01\x7F", 3),
    "<|endoftext|>", "a<|endoftext|>b", std::string(3000, 'a'), std::string(500, '!'),
};

// Bytes that are not UTF-8: stray continuation, truncated sequences, overlong, surrogate, too big.
const std::vector<std::string> kInvalidCases = {
    "\xFF", "abc\x80" "def", "\xE2\x82 euro", "caf\xE9 ol\xE9", "\xC0\xAF", "\xED\xA0\x80 surrogate",
    "\xF4\x90\x80\x80", " \xF0\x9F\x8C", "\xF0\x9F\x8C\x8D\xF0\x9F", "x \xFF\xFE y", "'\xFFs", "\n\xFF\n",
    "word\xC3 \xA9", "123\x80" "456", "  \xFF  ",
};

std::vector<std::string> pieces(const std::string& s) {
  std::vector<std::string> out;
  data::Pretokenizer pre(s);
  for (std::string_view p; pre.next(&p);) out.emplace_back(p);
  return out;
}

std::vector<std::string> ref_pieces(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const auto& piece : j) {
    std::string s;
    for (const auto& b : piece) s += char(b.get<int>());
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> write_cases(const std::string& dir, const std::vector<std::string>& cases) {
  std::vector<std::string> files;
  for (size_t i = 0; i < cases.size(); ++i) {
    files.push_back(dir + "/case_" + std::to_string(i) + ".txt");
    write_bytes(files.back(), cases[i]);
  }
  return files;
}

// The class of every code point, asked of tiktoken's own regex engine (`classes`), equals the
// class kiln's pretokenizer uses: the tables were generated from it, and this catches a stale one.
TEST(Gpt2Reference, EveryCodePointHasTiktokensClass) {
  REQUIRE_REFERENCE();
  const auto got = run_reference("classes", {}, 1);
  ASSERT_EQ(got.size(), 1u);
  std::vector<data::CharClass> want(0x110000, data::CharClass::kOther);
  const std::pair<const char*, data::CharClass> kinds[] = {
      {"N", data::CharClass::kNumber}, {"L", data::CharClass::kLetter}, {"S", data::CharClass::kSpace}};
  for (const auto& [key, cls] : kinds) {
    for (const auto& r : got[0].at(key)) {
      for (uint32_t cp = r[0].get<uint32_t>(); cp <= r[1].get<uint32_t>(); ++cp) want[cp] = cls;
    }
  }
  size_t differ = 0, spaces = 0;
  for (uint32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // surrogates are not characters
    spaces += want[cp] == data::CharClass::kSpace;
    if (data::char_class(cp) != want[cp] && differ++ < 10) ADD_FAILURE() << "U+" << std::hex << cp << " differs";
  }
  EXPECT_EQ(differ, 0u);
  EXPECT_EQ(spaces, 25u);  // White_Space: 9..D, 20, 85, A0, 1680, 2000..200A, 2028, 2029, 202F, 205F, 3000
  EXPECT_EQ(want[0x85], data::CharClass::kSpace);
  EXPECT_EQ(want[0xFEFF], data::CharClass::kOther);
}

TEST(Gpt2Reference, HardCasesIdsAndPieces) {
  REQUIRE_REFERENCE();
  const auto tok = data::load_tokenizer(bpe_test::gpt2_dir());
  const std::vector<std::string> files = write_cases(scratch_dir(), kHardCases);
  const auto ids = run_reference("encode", files), split = run_reference("split", files);
  ASSERT_EQ(ids.size(), kHardCases.size());
  ASSERT_EQ(split.size(), kHardCases.size());
  for (size_t i = 0; i < kHardCases.size(); ++i) {
    EXPECT_EQ(tok->encode(kHardCases[i]), ids[i].get<std::vector<uint32_t>>()) << "case " << i << ": " << kHardCases[i];
    EXPECT_EQ(pieces(kHardCases[i]), ref_pieces(split[i])) << "case " << i << ": " << kHardCases[i];
  }
  std::printf("[ reference ] %zu hard cases: ids and pieces identical\n", kHardCases.size());
}

TEST(Gpt2Reference, InvalidUtf8SplitsWhereTheReferenceDoes) {
  REQUIRE_REFERENCE();
  const auto tok = data::load_tokenizer(bpe_test::gpt2_dir());
  const std::vector<std::string> files = write_cases(scratch_dir(), kInvalidCases);
  const auto ids = run_reference("encode", files), split = run_reference("split", files);
  ASSERT_EQ(ids.size(), kInvalidCases.size());
  for (size_t i = 0; i < kInvalidCases.size(); ++i) {
    const std::string& raw = kInvalidCases[i];
    // The reference sees U+FFFD per ill-formed subpart, and so does kiln's encoder: the same ids
    // from the raw bytes. (The pretokenizer alone keeps bad bytes as class "other"; its pieces
    // still fall where the reference's do.)
    std::vector<std::string> mine = pieces(raw);
    for (std::string& p : mine) p = bpe_test::whatwg_replace(p);
    EXPECT_EQ(mine, ref_pieces(split[i])) << "case " << i;
    EXPECT_EQ(tok->encode(raw), ids[i].get<std::vector<uint32_t>>()) << "case " << i;
    EXPECT_EQ(tok->decode(tok->encode(raw)), bpe_test::whatwg_replace(raw)) << "case " << i;
  }
}

TEST(Gpt2Reference, RandomMixturesOfTrickyFragments) {
  REQUIRE_REFERENCE();
  const auto tok = data::load_tokenizer(bpe_test::gpt2_dir());
  const std::vector<std::string> frags = {
      " ", "  ", "\n", "\t", "\r\n", "'", "'s", "'ll", "'RE", "a", "the", "The", " whale", "Ahab", "0",
      "42", "3.5", ",", ".", "!?", "--", "\"", "(", ")", "\xC3\xA9", "\xC3\x89t\xC3\xA9", "e\xCC\x81",
      "\xE4\xB8\xAD\xE6\x96\x87", "\xF0\x9F\x8C\x8D", "\xE2\x80\x8D", "\xC2\xA0", "\xE3\x80\x80",
      "\xEF\xBB\xBF", "\xC2\x85", "\x1F", "\xD9\xA3", "\xC2\xBD", "_", "<|endoftext|>", "\xE2\x80\x99"};
  std::vector<std::string> cases;
  for (uint64_t c = 0; c < 300; ++c) {
    const uint64_t key = kernels::mix(c, kernels::Purpose::kTest, 77);
    std::string s;
    const size_t n = 1 + kernels::hash64(key) % 40;
    for (size_t k = 0; k < n; ++k) s += frags[kernels::hash64(key + 1 + k) % frags.size()];
    cases.push_back(s);
  }
  const auto ids = run_reference("encode", write_cases(scratch_dir(), cases));
  ASSERT_EQ(ids.size(), cases.size());
  int same = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const bool eq = tok->encode(cases[i]) == ids[i].get<std::vector<uint32_t>>();
    same += eq;
    EXPECT_TRUE(eq) << "case " << i << ": " << cases[i];
  }
  std::printf("[ reference ] %d/%zu random mixtures identical\n", same, cases.size());
}

TEST(Gpt2Reference, MobyDickIdentical) {
  REQUIRE_REFERENCE();
  const std::string dir = bpe_test::moby_dir();
  if (dir.empty()) GTEST_SKIP() << "Moby-Dick corpus not in $KILN_CACHE/corpora/moby-dick (run scripts/setup.sh)";
  const auto tok = data::load_tokenizer(bpe_test::gpt2_dir());
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".txt") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  const auto ref = run_reference("encode", files);
  ASSERT_EQ(ref.size(), files.size());
  size_t bytes = 0, tokens = 0, same = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string text = read_bytes(files[i]);
    const std::vector<uint32_t> mine = tok->encode(text);
    bytes += text.size();
    tokens += mine.size();
    same += mine == ref[i].get<std::vector<uint32_t>>();
    EXPECT_EQ(mine, ref[i].get<std::vector<uint32_t>>()) << files[i];
  }
  EXPECT_GE(bytes, size_t(1) << 20);
  std::printf("[ reference ] Moby-Dick: %zu/%zu chapters, %zu bytes, %zu tokens identical\n", same, files.size(),
              bytes, tokens);
}

}  // namespace
