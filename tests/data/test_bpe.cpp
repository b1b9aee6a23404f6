// tests/data/test_bpe.cpp
// The GPT-2 tokenizer (data/tokenizer_gpt2.h) on its own: the golden vector from ENVIRONMENT.md,
// lossless round trips of arbitrary bytes (invalid UTF-8 included), token_bytes, `<|endoftext|>`
// as plain text, thread safety, both BPE merge algorithms agreeing on the real merge table, and
// the folder rules (save/load, missing or malformed files, the `gpt2` cache name). Needs the files
// from scripts/setup.sh and skips without them; comparisons with the reference encoder are in
// test_bpe_reference.cpp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "data/bpe_merge.h"
#include "data/tokenizer.h"
#include "data/tokenizer_gpt2.h"
#include "kernels/rng.h"
#include "tests/data/test_bpe_util.h"
#include "data/utf8.h"
#include "tests/data/test_util.h"

namespace {
using namespace data_test;
using bpe_test::gpt2_dir;

std::string random_bytes(uint64_t seed, size_t n) {
  const uint64_t key = kernels::mix(seed, kernels::Purpose::kTest);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(kernels::hash64(key + i) & 0xFF);
  return s;
}

TEST(Gpt2Tokenizer, GoldenVector) {
  REQUIRE_GPT2_FILES();
  const auto tok = data::load_tokenizer(gpt2_dir());
  EXPECT_EQ(tok->name(), "gpt2");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->eot_token(), 50256);
  EXPECT_EQ(tok->encode("Hello, World! How are you today? \xF0\x9F\x8C\x8D"),
            (std::vector<uint32_t>{15496, 11, 2159, 0, 1374, 389, 345, 1909, 30, 12520, 234, 235}));
  EXPECT_EQ(tok->encode(""), std::vector<uint32_t>{});
}

TEST(Gpt2Tokenizer, RoundTripsArbitraryBytes) {
  REQUIRE_GPT2_FILES();
  const auto tok = data::load_tokenizer(gpt2_dir());
  // Any bytes are tokenized; ill-formed UTF-8 comes back as the reference sees it (U+FFFD per
  // maximal ill-formed subpart), everything else byte for byte.
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const std::string s = random_bytes(seed, size_t(seed * 37 % 900));
    const std::vector<uint32_t> ids = tok->encode(s);
    const std::string want = bpe_test::whatwg_replace(s);
    EXPECT_EQ(data::utf8_replace_invalid(s), want) << "seed " << seed;
    EXPECT_EQ(tok->decode(ids), want) << "seed " << seed;
    int64_t bytes = 0;
    for (uint32_t id : ids) bytes += tok->token_bytes(id);
    EXPECT_EQ(bytes, int64_t(want.size())) << "token_bytes must add up to the text, seed " << seed;
  }
  // Ill-formed UTF-8 of every kind: stray continuation, truncated, overlong, surrogate, > U+10FFFF.
  for (const std::string s : {"\x80", "a\xC3", "\xE2\x82 x", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                              "\xFF\xFE hi", " \xF0\x9F\x8C", "caf\xE9 ol\xE9"}) {
    EXPECT_FALSE(data::utf8_valid(s));
    EXPECT_EQ(tok->decode(tok->encode(s)), bpe_test::whatwg_replace(s));
  }
  EXPECT_EQ(data::utf8_replace_invalid("a\xC3"), "a\xEF\xBF\xBD");
  EXPECT_EQ(data::utf8_replace_invalid("\xE2\x82 x"), "\xEF\xBF\xBD x");            // one subpart, one U+FFFD
  EXPECT_EQ(data::utf8_replace_invalid("\xF0\x9F\x8C\x8D\xF0\x9F"), "\xF0\x9F\x8C\x8D\xEF\xBF\xBD");
  EXPECT_TRUE(data::utf8_valid("Hello \xF0\x9F\x8C\x8D caf\xC3\xA9"));
}

TEST(Gpt2Tokenizer, TokenBytesAndEot) {
  REQUIRE_GPT2_FILES();
  const auto tok = data::load_tokenizer(gpt2_dir());
  EXPECT_EQ(tok->token_bytes(50256), 0);  // EOT is not text of the document
  EXPECT_EQ(tok->decode({50256}), "<|endoftext|>");
  EXPECT_EQ(tok->token_bytes(262), 4);    // " the"
  EXPECT_EQ(tok->decode({262}), " the");
  EXPECT_EQ(tok->token_bytes(50257), 0);
  EXPECT_NE(input_error([&] { tok->decode({1, 50257}); }).find("id 50257 at position 1"), std::string::npos);
  // The separator's text inside a document is plain text, as in the reference encoder.
  const std::vector<uint32_t> ids = tok->encode("a<|endoftext|>b");
  for (uint32_t id : ids) EXPECT_NE(id, 50256u);
  EXPECT_EQ(tok->decode(ids), "a<|endoftext|>b");
}

TEST(Gpt2Tokenizer, ThreadsShareOneTokenizer) {
  REQUIRE_GPT2_FILES();
  const auto tok = data::load_tokenizer(gpt2_dir());
  std::vector<std::string> texts;
  for (uint64_t s = 0; s < 8; ++s) texts.push_back(random_bytes(100 + s, 3000) + " the cat's hat, 12345 \xC3\xA9t\xC3\xA9");
  std::vector<std::vector<uint32_t>> expect;
  for (const std::string& t : texts) expect.push_back(tok->encode(t));
  std::vector<int> bad(4, 0);
  std::vector<std::thread> th;
  for (int w = 0; w < 4; ++w) {
    th.emplace_back([&, w] {
      for (int rep = 0; rep < 20; ++rep) {
        for (size_t i = 0; i < texts.size(); ++i) bad[size_t(w)] += tok->encode(texts[(i + size_t(w)) % texts.size()]) != expect[(i + size_t(w)) % texts.size()];
      }
    });
  }
  for (std::thread& t : th) t.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

// Builds the real merge table by hand, so the two algorithms can be compared directly on it.
data::BpeMerges real_merges(std::vector<uint32_t>* byte_ids) {
  const nlohmann::json enc = nlohmann::json::parse(read_bytes(gpt2_dir() + "/encoder.json"));
  const std::string bpe = read_bytes(gpt2_dir() + "/vocab.bpe");
  data::BpeMerges m;
  uint32_t rank = 0;
  for (size_t b = bpe.find('\n') + 1; b < bpe.size();) {
    const size_t e = bpe.find('\n', b), sp = bpe.find(' ', b);
    const std::string l = bpe.substr(b, sp - b), r = bpe.substr(sp + 1, e - sp - 1);
    m.add(enc[l].get<uint32_t>(), enc[r].get<uint32_t>(), enc[l + r].get<uint32_t>(), rank++);
    b = e + 1;
  }
  m.finish();
  // bytes_to_unicode for the initial symbols: printable bytes are themselves, the rest U+0100 + n.
  byte_ids->resize(256);
  uint32_t n = 0;
  for (uint32_t c = 0; c < 256; ++c) {
    const bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174);
    const uint32_t cp = printable ? c : 256 + n++;
    std::string u;
    if (cp < 0x80) u += char(cp); else u += char(0xC0 | (cp >> 6)), u += char(0x80 | (cp & 0x3F));
    (*byte_ids)[c] = enc[u].get<uint32_t>();
  }
  return m;
}

TEST(BpeMerges, HeapAndPassesAgreeOnTheGpt2Table) {
  REQUIRE_GPT2_FILES();
  std::vector<uint32_t> byte_ids;
  const data::BpeMerges m = real_merges(&byte_ids);
  EXPECT_EQ(m.size(), 50000u);
  EXPECT_TRUE(m.monotone());
  std::vector<std::string> pieces = {std::string(5000, 'a'), "ababababababababababababababababab",
                                     "Ġthethethethethethethethethethethethe"};
  std::string letters;
  for (const std::string w : {"whale", "Ahab", "harpooneer", "the", "Pequod", "leviathan", "ing", "tion", "er"}) letters += w;
  for (int i = 0; i < 50; ++i) pieces.push_back(letters.substr(size_t(i) % 7, 20 + size_t(i) * 3));
  for (uint64_t s = 0; s < 30; ++s) pieces.push_back(random_bytes(500 + s, 40 + s * 13));
  for (const std::string& p : pieces) {
    std::vector<uint32_t> a(p.size()), b;
    for (size_t i = 0; i < p.size(); ++i) a[i] = byte_ids[static_cast<unsigned char>(p[i])];
    b = a;
    m.apply_passes(a);
    m.apply_heap(b);
    EXPECT_EQ(a, b) << "piece of " << p.size() << " bytes";
  }
}

TEST(BpeMerges, NonMonotoneTableUsesThePasses) {
  // ids 0 = "a", 1 = "b", 2 = "ab", 4 = "aba". ("ab", "a") ranks before ("a", "b"), which makes
  // "ab": not a table BPE training produces, but a file could say so. On "abab..." GPT-2's passes
  // merge every ("a", "b") first; a heap would grab ("ab", "a") as soon as it appears.
  data::BpeMerges m;
  m.add(2, 0, 4, 0);
  m.add(0, 1, 2, 1);
  m.finish();
  EXPECT_FALSE(m.monotone());
  std::vector<uint32_t> ids(40, 0);
  for (size_t i = 1; i < ids.size(); i += 2) ids[i] = 1;
  std::vector<uint32_t> via_apply = ids, via_heap = ids;
  m.apply(via_apply);
  m.apply_heap(via_heap);
  EXPECT_EQ(via_apply, std::vector<uint32_t>(20, 2));
  EXPECT_NE(via_heap, via_apply);  // so the check above really tells the algorithms apart
}

TEST(Gpt2Folder, SaveLoadAndCacheName) {
  REQUIRE_GPT2_FILES();
  const std::string dir = scratch_dir();
  const auto tok = data::resolve_tokenizer("gpt2");  // $KILN_CACHE/tokenizers/gpt2
  tok->save(dir + "/tok");
  EXPECT_NE(read_bytes(dir + "/tok/tokenizer.yaml").find("type: gpt2"), std::string::npos);
  EXPECT_EQ(read_bytes(dir + "/tok/vocab.bpe"), read_bytes(gpt2_dir() + "/vocab.bpe"));
  const auto back = data::load_tokenizer(dir + "/tok");
  EXPECT_EQ(back->fingerprint(), tok->fingerprint());
  EXPECT_EQ(back->fingerprint().rfind("gpt2:", 0), 0u);
  EXPECT_EQ(back->encode("round trip 'll"), tok->encode("round trip 'll"));
  EXPECT_EQ(data::resolve_tokenizer(dir + "/tok")->name(), "gpt2");

  // `gpt2` with an empty cache says how to get the files.
  const std::string saved = std::getenv("KILN_CACHE");
  setenv("KILN_CACHE", (dir + "/empty_cache").c_str(), 1);
  const std::string msg = input_error([] { data::resolve_tokenizer("gpt2"); });
  setenv("KILN_CACHE", saved.c_str(), 1);
  EXPECT_NE(msg.find(dir + "/empty_cache/tokenizers/gpt2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/setup.sh"), std::string::npos) << msg;
}

TEST(Gpt2Folder, MissingAndMalformedFiles) {
  REQUIRE_GPT2_FILES();
  const std::string dir = scratch_dir();
  const std::string enc = read_bytes(gpt2_dir() + "/encoder.json"), bpe = read_bytes(gpt2_dir() + "/vocab.bpe");
  struct Case {
    std::string yaml, encoder, merges, expect;  // "-" = file absent
  };
  const std::vector<Case> cases = {
      {"-", enc, "-", "has no vocab.bpe"},
      {"-", "-", bpe, "has no encoder.json"},
      {"type: gpt2\n", "-", "-", "has no encoder.json"},
      {"type: gpt2\nvocab_size: 50000\n", enc, bpe, "vocab_size is 50000, expected 50257"},
      {"-", "{not json", bpe, "encoder.json: not valid JSON"},
      {"-", "{\"a\": 0, \"b\": 5}", bpe, "has id 5"},
      {"-", enc, "#version: 0.2\nĠ t\nĠ a b\n", "vocab.bpe line 3: expected two tokens"},
      {"-", enc, "#version: 0.2\nĠ t\nzzz qqq\n", "vocab.bpe line 3: token \"zzz\" is not in encoder.json"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string d = dir + "/case" + std::to_string(i);
    fs::create_directories(d);
    if (cases[i].yaml != "-") write_bytes(d + "/tokenizer.yaml", cases[i].yaml);
    if (cases[i].encoder != "-") write_bytes(d + "/encoder.json", cases[i].encoder);
    if (cases[i].merges != "-") write_bytes(d + "/vocab.bpe", cases[i].merges);
    const std::string msg = input_error([&] { data::load_tokenizer(d); });
    EXPECT_NE(msg.find(d), std::string::npos) << "must name the folder or file: " << msg;
    EXPECT_NE(msg.find(cases[i].expect), std::string::npos) << "got: " << msg << "\nexpected: " << cases[i].expect;
  }
}

}  // namespace
