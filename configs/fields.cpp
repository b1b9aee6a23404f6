// configs/fields.cpp
// Scalar parsing and printing for config fields (declared in configs/fields.h). One set of rules
// for YAML files and command-line overrides, so `optim.lr=6e-4` and `lr: 6e-4` mean the same.
//
// std::from_chars / std::to_chars do the number work: they ignore the locale (a German locale
// must not turn 0.5 into "0,5") and to_chars gives the shortest text that reads back bit-exactly,
// which the round trip to_yaml -> load relies on.
#include "configs/fields.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace configs::detail {
namespace {

// "got 'x'" tail shared by every type error.
std::string got(std::string_view expected, std::string_view text) {
  return "expected " + std::string(expected) + ", got " + single_quoted(text);
}

// from_chars rejects a leading '+', which YAML and shells both allow: drop it, but only when a
// digit or '.' follows (so "+-3" and "+" stay errors).
std::string_view strip_plus(std::string_view s) {
  if (s.size() > 1 && s[0] == '+' && (std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.'))
    s.remove_prefix(1);
  return s;
}

// Integers of any width: digits only, whole text consumed, range checked against T.
template <class T> std::optional<std::string> parse_integer(std::string_view text, T& out) {
  const std::string_view s = strip_plus(text);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size())
    return got("an integer", text);
  if (ec == std::errc::result_out_of_range || v < std::numeric_limits<T>::min() ||
      v > std::numeric_limits<T>::max()) {
    return got("an integer in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
                   std::to_string(std::numeric_limits<T>::max()) + "]",
               text);
  }
  out = static_cast<T>(v);
  return std::nullopt;
}

}  // namespace

std::string single_quoted(std::string_view value) {
  constexpr size_t kMax = 80;  // past this the value is almost certainly a paste accident
  // Built by append: `"'" + std::string(...)` trips a GCC 12 -Wrestrict false positive.
  std::string out(1, '\'');
  out.append(value.substr(0, kMax));
  out.push_back('\'');
  if (value.size() > kMax) out.append("... (").append(std::to_string(value.size())).append(" characters)");
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::optional<std::string> parse_field(std::string_view text, std::string& out) {
  out = std::string(text);
  return std::nullopt;
}

std::optional<std::string> parse_field(std::string_view text, int& out) {
  return parse_integer(text, out);
}

std::optional<std::string> parse_field(std::string_view text, int64_t& out) {
  return parse_integer(text, out);
}

std::optional<std::string> parse_field(std::string_view text, double& out) {
  const std::string_view s = strip_plus(text);
  double v = 0;
  // general = fixed or scientific; hex floats, "inf" and "nan" are not what a config means.
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size())
    return got("a number", text);
  if (ec == std::errc::result_out_of_range || !std::isfinite(v))
    return got("a finite number", text);
  out = v;
  return std::nullopt;
}

std::optional<std::string> parse_field(std::string_view text, bool& out) {
  // YAML 1.1's yes/no/on/off are rejected on purpose: `tie_embeddings: no` is more likely a
  // mistake than a boolean, and 1.2 dropped them.
  if (text == "true" || text == "True" || text == "TRUE") { out = true; return std::nullopt; }
  if (text == "false" || text == "False" || text == "FALSE") { out = false; return std::nullopt; }
  return got("true or false", text);
}

std::string format_field(const std::string& v) { return v; }
std::string format_field(int v) { return std::to_string(v); }
std::string format_field(int64_t v) { return std::to_string(v); }
std::string format_field(bool v) { return v ? "true" : "false"; }

std::string format_field(double v) {
  std::array<char, 64> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);  // shortest exact
  std::string s(buf.data(), ec == std::errc() ? end : buf.data());
  // to_chars picks the shorter of fixed and scientific ("0.25", "6e-04"). YAML 1.1 readers
  // (PyYAML) only see a float when the mantissa has a '.', so "1" -> "1.0", "6e-04" -> "6.0e-04".
  const size_t e = s.find('e');
  const std::string mantissa = s.substr(0, e);
  if (mantissa.find('.') == std::string::npos) s.insert(e == std::string::npos ? s.size() : e, ".0");
  return s;
}

bool looks_like_non_string(std::string_view text) {
  if (text.empty()) return true;  // an empty plain scalar is null
  // null, bools of YAML 1.1 and 1.2 (a tool on either version must read a string back).
  static constexpr std::string_view kSpecial[] = {
      "~",   "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
      "yes", "Yes",  "YES",  "no",   "No",   "NO",   "on",   "On",    "ON",    "off",
      "Off", "OFF",  "y",    "Y",    "n",    "N",    ".inf", ".Inf",  ".INF",  "-.inf",
      ".nan", ".NaN", ".NAN"};
  for (std::string_view k : kSpecial)
    if (text == k) return true;
  // Anything our own number parsers accept would be a number to YAML too.
  int64_t i = 0;
  double d = 0;
  return !parse_field(text, i).has_value() || !parse_field(text, d).has_value();
}

}  // namespace configs::detail
