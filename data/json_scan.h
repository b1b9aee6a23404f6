// data/json_scan.h
// JsonScanner: a small validating JSON reader over a string, for the two places kiln reads JSON
// on a hot path: JSONL lines in `kiln prepare` (data/document_jsonl.cpp) and GPT-2's encoder.json
// (data/tokenizer_gpt2.cpp, where it loads in a fraction of nlohmann::json's time).
//
// Strict RFC 8259 syntax, except where kiln promises leniency: bytes >= 0x80 inside strings are
// taken as they are (invalid UTF-8 in a document is tokenized, not an error) and a lone
// \uD800-\uDFFF escape becomes U+FFFD, which is what a JavaScript caller of the reference encoder
// would hand it. Builds no tree: callers walk objects themselves and skip what they do not need
// with value(). Every error is an InputError "<where>: <what> at byte N (expected <hint>)".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "kernels/check.h"

namespace data {

inline constexpr int kJsonMaxDepth = 512;  // deeper nesting is an error, not a stack overflow

class JsonScanner {
 public:
  // where: what error messages start with ("data.jsonl line 7"); hint: what the text should be.
  JsonScanner(std::string_view s, std::string where, std::string hint)
      : s_(s), where_(std::move(where)), hint_(std::move(hint)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw kernels::InputError(where_ + ": " + what + " at byte " + std::to_string(i_ + 1) + " (expected " +
                              hint_ + ")");
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
  }
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void expect(char c) {
    if (peek() != c) fail(std::string("not valid JSON: expected '") + c + "'");
    ++i_;
  }

  // A JSON string at the cursor; decoded into *out unless out is null.
  void string(std::string* out) {
    expect('"');
    for (;;) {
      // A run of plain bytes is copied at once; any byte >= 0x80 as is, valid UTF-8 or not.
      size_t j = i_;
      while (j < s_.size()) {
        const unsigned char b = static_cast<unsigned char>(s_[j]);
        if (b == '"' || b == '\\' || b < 0x20) break;
        ++j;
      }
      if (out) out->append(s_.data() + i_, j - i_);
      i_ = j;
      if (at_end()) fail("not valid JSON: unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return;
      if (c < 0x20) fail("not valid JSON: control character in a string");
      const char e = at_end() ? '\0' : s_[i_++];
      const char* simple = nullptr;
      switch (e) {
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case '/': simple = "/"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'n': simple = "\n"; break;
        case 'r': simple = "\r"; break;
        case 't': simple = "\t"; break;
        case 'u': break;
        default: fail("not valid JSON: bad escape in a string");
      }
      if (simple) {
        if (out) out->push_back(*simple);
        continue;
      }
      uint32_t cp = hex4();
      if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(i_, 2) == "\\u") {
        const size_t save = i_;
        i_ += 2;
        const uint32_t lo = hex4();
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else {
          i_ = save;  // not a pair: the high half is lone, the next escape stands alone
        }
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
      if (out) append_utf8(out, cp);
    }
  }

  // Any JSON value at the cursor, checked and skipped.
  void value(int depth) {
    if (depth > kJsonMaxDepth) fail("JSON nested too deeply");
    const char c = peek();
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++i_;
      ws();
      if (peek() == close) {
        ++i_;
        return;
      }
      for (;;) {
        if (c == '{') {
          string(nullptr);
          ws();
          expect(':');
          ws();
        }
        value(depth + 1);
        ws();
        if (peek() == ',') {
          ++i_;
          ws();
          continue;
        }
        expect(close);
        return;
      }
    }
    if (c == '"') return string(nullptr);
    for (const char* lit : {"true", "false", "null"}) {
      if (s_.substr(i_).starts_with(lit)) {
        i_ += std::char_traits<char>::length(lit);
        return;
      }
    }
    number();
  }

  // A non-negative integer without fraction or exponent (encoder.json's ids).
  uint64_t unsigned_integer() {
    if (peek() < '0' || peek() > '9') fail("expected a non-negative integer");
    if (peek() == '0' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9') fail("not valid JSON: leading zero");
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (v > (UINT64_MAX - 9) / 10) fail("integer too large");
      v = v * 10 + uint64_t(peek() - '0');
      ++i_;
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail("expected an integer");
    return v;
  }

  size_t pos() const { return i_; }

 private:
  uint32_t hex4() {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = peek();
      const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) fail("not valid JSON: bad \\u escape");
      v = v * 16 + uint32_t(d);
      ++i_;
    }
    return v;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  void number() {
    const size_t start = i_;
    const auto digits = [&] {
      const size_t d = i_;
      while (peek() >= '0' && peek() <= '9') ++i_;
      return i_ > d;
    };
    if (peek() == '-') ++i_;
    if (peek() == '0') {
      ++i_;
    } else if (!digits()) {
      i_ = start;
      fail("not valid JSON: unexpected character");
    }
    if (peek() == '.' && (++i_, !digits())) fail("not valid JSON: bad number");
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!digits()) fail("not valid JSON: bad number");
    }
  }

  static void append_utf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(char(cp));
    } else if (cp < 0x800) {
      out->push_back(char(0xC0 | (cp >> 6)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(char(0xE0 | (cp >> 12)));
      out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(char(0xF0 | (cp >> 18)));
      out->push_back(char(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view s_;
  std::string where_, hint_;
  size_t i_ = 0;
};

// "an object", "a number", ... for the value starting with c; nullptr when no value starts so.
inline const char* json_kind(char c) {
  switch (c) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
      return "a number";
    default: return nullptr;  // not the start of any value
  }
}

}  // namespace data
