// kernels/json_untrusted.h
// Reading JSON that came from a user's disk (metrics.jsonl for `kiln plot` and resume, the
// safetensors header) with nlohmann::json, safely:
//  - nesting is bounded before parsing: nlohmann parses iteratively, but dump(), comparisons and
//    copies recurse once per level, so 100000 nested '[' overflowed the stack of `kiln plot`;
//  - messages never dump() such a value: describe_json() says what it is in a few words, quoting
//    at most a short scalar.
// Header-only (nlohmann is header-only too); kiln's own streaming scanner for JSONL documents and
// encoder.json is data/json_scan.h, which bounds depth itself.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kernels {

inline constexpr int kJsonUntrustedMaxDepth = 64;  // kiln's files nest 2-3 levels

// Deepest nesting of [ and { in `s`, skipping strings (with their escapes); stops at limit + 1.
inline int json_nesting_depth(std::string_view s, int limit = kJsonUntrustedMaxDepth) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// Parses `text`; on failure returns a discarded value and says why in *why ("not valid JSON",
// "nested deeper than 64 levels"). Never throws.
inline nlohmann::json parse_untrusted_json(std::string_view text, std::string* why,
                                           int max_depth = kJsonUntrustedMaxDepth) {
  if (json_nesting_depth(text, max_depth) > max_depth) {
    if (why) *why = "nested deeper than " + std::to_string(max_depth) + " levels of [ and {";
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() && why) *why = "not valid JSON";
  return j;
}

// What a value is, for messages: "the string \"abc\"", "the number 3.5", "an array of 3 values",
// "an object", "null", "true". Strings longer than 40 bytes are cut ("..."); no recursion.
inline std::string describe_json(const nlohmann::json& v) {
  using T = nlohmann::json::value_t;
  switch (v.type()) {
    case T::null: return "null";
    case T::boolean: return v.get<bool>() ? "true" : "false";
    case T::string: {
      const std::string& s = v.get_ref<const std::string&>();
      std::string shown;
      for (size_t i = 0; i < s.size() && i < 40; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        shown += (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) ? '?' : char(c);
      }
      return "the string \"" + shown + (s.size() > 40 ? "...\"" : "\"");
    }
    case T::number_integer: return "the number " + std::to_string(v.get<int64_t>());
    case T::number_unsigned: return "the number " + std::to_string(v.get<uint64_t>());
    case T::number_float: return "the number " + nlohmann::json(v.get<double>()).dump();  // a scalar: flat
    case T::array: return "an array of " + std::to_string(v.size()) + " values";
    case T::object: return "an object";
    default: return "a binary value";
  }
}

}  // namespace kernels
