// configs/fields.h
// Internal to configs/: the pieces every config visitor shares. A visitor walks Config::visit();
// at the top level it meets sections (structs that have their own visit()), inside a section it
// meets scalar fields of five types. This header says how to tell the two apart, how a scalar's
// text is parsed and printed, and how error messages quote values.
//
// Called by load.cpp (YamlReader, Overrider), print.cpp (YamlWriter, Equals) and validate.cpp.
// Not for code outside configs/: other folders use load.h / validate.h.
//
// The parse functions do not throw: they return what was wrong ("expected an integer, got '3.5'")
// and the caller adds where it happened (file and line, or the override), so one parser serves
// the YAML file and the command line with identical type rules (CONTRACTS §2).
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace configs::detail {

// A visitor that accepts anything; used only to ask "does T have visit()?".
struct AnyField {
  template <class T> void operator()(const char*, T&) {}
};

// A section is anything with visit(): each struct in config.h, and Config itself.
template <class T>
concept Section = requires(T& t, AnyField& v) { t.visit(v); };

// The scalar types a field may have. Adding a type means a parse_field / format_field pair below
// and one line here; no visitor changes.
template <class T>
concept Scalar = std::same_as<T, std::string> || std::same_as<T, int> ||
                 std::same_as<T, int64_t> || std::same_as<T, double> || std::same_as<T, bool>;

// A field that may be unset (std::optional of a Scalar): the key is absent from the YAML until a
// value is given. Readers parse into the value type; the writer skips an unset field.
template <class T> struct OptionalTraits : std::false_type {};
template <Scalar T> struct OptionalTraits<std::optional<T>> : std::true_type {
  using value_type = T;
};
template <class T>
concept OptionalScalar = OptionalTraits<T>::value;
// What a config field may be: a scalar or an optional scalar.
template <class T>
concept Field = Scalar<T> || OptionalScalar<T>;

// Parse `text` into `out`. Returns nullopt on success, else the problem without the key, e.g.
// "expected an integer, got 'twelve'". `out` is untouched on failure.
//  - int / int64_t: optional sign and decimal digits only (3.5, 1e3, 0x10 are rejected), in range.
//  - double: decimal or scientific notation (6e-4, 6.0E-4, 3); finite only.
//  - bool: true / false (also True, TRUE, False, FALSE, as YAML 1.2 spells them).
//  - string: any text.
std::optional<std::string> parse_field(std::string_view text, std::string& out);
std::optional<std::string> parse_field(std::string_view text, int& out);
std::optional<std::string> parse_field(std::string_view text, int64_t& out);
std::optional<std::string> parse_field(std::string_view text, double& out);
std::optional<std::string> parse_field(std::string_view text, bool& out);

// Text that parse_field reads back to the same value. Doubles use the shortest round-trip form
// and always carry a '.' or an exponent, so a reader sees they are not integers.
std::string format_field(const std::string& v);
std::string format_field(int v);
std::string format_field(int64_t v);
std::string format_field(double v);
std::string format_field(bool v);

// What a field of type T holds, for messages: "an integer", "a number", "true or false", ...
template <Scalar T> constexpr const char* expected_type() {
  if constexpr (std::same_as<T, std::string>) return "a string";
  else if constexpr (std::same_as<T, bool>) return "true or false";
  else if constexpr (std::same_as<T, double>) return "a number";
  else return "an integer";
}

// Optional fields: parsed as their value type; formatted as the value, or "unset".
template <Scalar T> std::optional<std::string> parse_field(std::string_view text, std::optional<T>& out) {
  T v = out.value_or(T{});
  if (auto problem = parse_field(text, v)) return problem;
  out = v;
  return std::nullopt;
}
template <Scalar T> std::string format_field(const std::optional<T>& v) { return v ? format_field(*v) : "unset"; }
template <Field T> constexpr const char* expected_type_of() {
  if constexpr (OptionalScalar<T>) return expected_type<typename OptionalTraits<T>::value_type>();
  else return expected_type<T>();
}

// 'value' in single quotes, shortened to keep a message on one line when a user pastes a lot.
std::string single_quoted(std::string_view value);

// "a, b, c": used to list the keys a section knows in unknown-key messages.
std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");

// True when a plain YAML scalar with this text would read back as something other than a string
// (a number, a bool, null) in YAML 1.1 or 1.2 readers; the writer double-quotes such strings so
// that other tools (Python, jq via yq) read config.yaml the way kiln does.
bool looks_like_non_string(std::string_view text);

}  // namespace configs::detail
