// tests/data/test_bpe_util.h
// Helpers for the GPT-2 tests: where the files from scripts/setup.sh are ($KILN_CACHE, set by
// tests/data/CMakeLists.txt), skipping honestly when they are not there, running the reference
// (tiktoken, r50k_base) through tests/data/tiktoken_reference.js, and the WHATWG UTF-8 decoder
// that JavaScript applies to bytes (each maximal invalid subpart -> U+FFFD), to predict what the
// reference sees.
// Test-only.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace bpe_test {
namespace fs = std::filesystem;

inline std::string cache_path(const std::string& rel) {
  const char* c = std::getenv("KILN_CACHE");
  return (c != nullptr && *c != '\0') ? (fs::path(c) / rel).string() : std::string();
}

// The GPT-2 files, or "" when setup.sh has not fetched them.
inline std::string gpt2_dir() {
  const std::string d = cache_path("tokenizers/gpt2");
  return !d.empty() && fs::exists(d + "/encoder.json") && fs::exists(d + "/vocab.bpe") ? d : "";
}

// The npm package tiktoken (its WASM build), or "" when setup.sh has not fetched it.
inline std::string reference_pkg() {
  const std::string d = cache_path("reference/tiktoken");
  return !d.empty() && fs::exists(d + "/lite/tiktoken.cjs") && fs::exists(d + "/encoders/r50k_base.json") ? d : "";
}

inline std::string moby_dir() {
  const std::string d = cache_path("corpora/moby-dick");
  return !d.empty() && fs::exists(d + "/chapter_1.txt") ? d : "";
}

#define REQUIRE_GPT2_FILES()                                                                      \
  do {                                                                                            \
    if (::bpe_test::gpt2_dir().empty())                                                           \
      GTEST_SKIP() << "GPT-2 files not found in $KILN_CACHE/tokenizers/gpt2 (run scripts/setup.sh)"; \
  } while (0)

#define REQUIRE_REFERENCE()                                                                       \
  do {                                                                                            \
    REQUIRE_GPT2_FILES();                                                                         \
    if (::bpe_test::reference_pkg().empty())                                                      \
      GTEST_SKIP() << "tiktoken not found in $KILN_CACHE/reference/tiktoken (run scripts/setup.sh)"; \
    if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed"; \
    if (std::getenv("KILN_TIKTOKEN_REFERENCE_JS") == nullptr)                                     \
      GTEST_SKIP() << "KILN_TIKTOKEN_REFERENCE_JS is not set (run through ctest)";                 \
  } while (0)

// Runs `node tiktoken_reference.js PKG MODE FILES...`; one parsed JSON value per file (or one in
// all for a mode that takes no files: pass expect_lines = 1).
inline std::vector<nlohmann::json> run_reference(const std::string& mode, const std::vector<std::string>& files,
                                                 size_t expect_lines = 0) {
  std::string cmd = std::string("node '") + std::getenv("KILN_TIKTOKEN_REFERENCE_JS") + "' '" + reference_pkg() + "' " + mode;
  for (const std::string& f : files) cmd += " '" + f + "'";
  std::vector<nlohmann::json> out;
  std::FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run " << cmd;
    return out;
  }
  std::string all;
  char buf[1 << 16];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) all.append(buf, n);
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << cmd;
  for (size_t b = 0; b < all.size();) {
    const size_t e = all.find('\n', b);
    out.push_back(nlohmann::json::parse(all.substr(b, e - b)));
    b = e == std::string::npos ? all.size() : e + 1;
  }
  EXPECT_EQ(out.size(), expect_lines != 0 ? expect_lines : files.size()) << cmd;
  return out;
}

// What TextDecoder / Buffer.toString('utf8') turn bytes into, re-encoded as UTF-8: every maximal
// subpart of an ill-formed sequence becomes U+FFFD (EF BF BD), as the WHATWG Encoding spec says.
inline std::string whatwg_replace(const std::string& in) {
  std::string out;
  const std::string fffd = "\xEF\xBF\xBD";
  size_t need = 0, seen = 0, start = 0;
  unsigned lo = 0x80, hi = 0xBF;
  for (size_t i = 0; i < in.size(); ++i) {
    const unsigned b = static_cast<unsigned char>(in[i]);
    if (need == 0) {
      start = i;
      if (b < 0x80) {
        out += char(b);
      } else if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
      } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
      } else {
        out += fffd;
      }
      continue;
    }
    if (b < lo || b > hi) {  // the subpart so far is replaced; b is looked at again
      need = seen = 0, lo = 0x80, hi = 0xBF;
      out += fffd;
      --i;
      continue;
    }
    lo = 0x80, hi = 0xBF;
    if (++seen == need) {
      out.append(in, start, need + 1);
      need = seen = 0;
    }
  }
  if (need != 0) out += fffd;
  return out;
}

}  // namespace bpe_test
