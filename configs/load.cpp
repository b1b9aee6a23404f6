// configs/load.cpp
// How a Config comes in: YAML files (with `base:` chains) through YamlReader, then command-line
// assignments through Overrider. Both are visitors over config.h's visit() lists, so a new key
// needs no change here. Declared in configs/load.h; printing and equality are in print.cpp.
//
// Inheritance is done on Config values, not on YAML trees: the base chain is loaded first, then
// each file's keys are read on top of the result. A file that sets only optim.lr therefore keeps
// every other optim key of its base (deep merge per section) without any YAML merging code.
#include <algorithm>
#include <filesystem>
#include <optional>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "configs/config.h"
#include "configs/fields.h"
#include "configs/load.h"
#include "configs/validate.h"
#include "kernels/check.h"
#include "kernels/yaml_strict.h"

namespace configs {
namespace fs = std::filesystem;
using detail::single_quoted;
using kernels::InputError;

namespace {

// " (line 4)" from a YAML mark; yaml-cpp counts from 0 and uses -1 for "no position".
std::string at_line(const YAML::Mark& m, std::string_view extra = {}) {
  if (m.line < 0) return extra.empty() ? "" : " (" + std::string(extra) + ")";
  return " (line " + std::to_string(m.line + 1) + (extra.empty() ? "" : "; ") + std::string(extra) + ")";
}

const char* kind_of(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  if (n.IsNull()) return "an empty value";
  return "a scalar";
}

// Reads one YAML map into a section (or, at the top level, into Config). Fields absent from the
// map keep their current value, which is the base's value or the default. Keys the visit() list
// never asked for are reported by finish(), which the caller must call after visit().
class YamlReader {
 public:
  // `map` must be a map or null (an empty section such as `model:` with every key commented out).
  // `prefix` is "" at the top level and "optim." inside a section.
  YamlReader(const YAML::Node& map, std::string source, std::string prefix)
      : source_(std::move(source)), prefix_(std::move(prefix)) {
    if (!map.IsMap()) return;
    for (const auto& kv : map) {
      Entry e{kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first), kv.first.Mark(), kv.second};
      // yaml-cpp 0.7 keeps duplicate keys silently; the second one would win or lose by accident.
      for (const Entry& prev : entries_)
        if (prev.key == e.key)
          throw InputError(source_ + ": duplicate key '" + prefix_ + e.key + "'" + at_line(e.mark));
      entries_.push_back(std::move(e));
    }
  }

  // Removes a key that is handled outside visit() (only `base` at the top level); null if absent.
  std::optional<YAML::Node> take(const std::string& key) {
    known_.push_back(key);
    Entry* e = find(key);
    if (!e) return std::nullopt;  // not YAML::Node(): a default Node is a defined null
    e->used = true;
    return e->value;
  }

  template <class T> void operator()(const char* name, T& field) {
    known_.emplace_back(name);
    Entry* e = find(name);
    if (!e) return;
    e->used = true;
    const std::string key = prefix_ + name;
    const YAML::Node& v = e->value;
    if constexpr (detail::Section<T>) {
      if (!v.IsMap() && !v.IsNull())
        throw InputError(source_ + ": section '" + key + "' must be a map of keys, got " + kind_of(v) +
                         (v.IsScalar() ? " " + single_quoted(v.Scalar()) : "") + at_line(e->mark));
      YamlReader inner(v, source_, key + ".");
      field.visit(inner);
      inner.finish();
    } else {
      static_assert(detail::Scalar<T>, "config field of an unsupported type: add it to fields.h");
      if (!v.IsScalar())
        throw InputError(source_ + ": " + key + ": expected " + detail::expected_type<T>() + ", got " +
                         kind_of(v) + at_line(e->mark));
      if (auto problem = detail::parse_field(v.Scalar(), field))
        throw InputError(source_ + ": " + key + ": " + *problem + at_line(e->mark));
    }
  }

  // Throws for the first key nobody asked for, listing what this level does know.
  void finish() const {
    for (const Entry& e : entries_) {
      if (e.used) continue;
      if (prefix_.empty())
        throw InputError(source_ + ": unknown section '" + e.key + "'" +
                         at_line(e.mark, "sections are: " + detail::join(known_)));
      const std::string section = prefix_.substr(0, prefix_.size() - 1);
      throw InputError(source_ + ": unknown key '" + prefix_ + e.key + "'" +
                       at_line(e.mark, section + " has: " + detail::join(known_)));
    }
  }

 private:
  struct Entry {
    std::string key;
    YAML::Mark mark;
    YAML::Node value;
    bool used = false;
  };
  Entry* find(std::string_view key) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
    return it == entries_.end() ? nullptr : &*it;
  }

  std::string source_, prefix_;
  std::vector<Entry> entries_;  // in file order, so the first unknown key in the file is reported
  std::vector<std::string> known_;
};

// Parses YAML text or a file into a top-level node that is a map or null. The text goes through
// kernels::load_yaml_strict, so syntax errors (and what yaml-cpp would silently misread, such as an
// unterminated quote) become InputError with the file and position.
YAML::Node parse_yaml(const std::string& source, const std::string* text, const fs::path* file) {
  const YAML::Node root =
      kernels::load_yaml_strict(text ? *text : kernels::read_user_text_file(file->string(), "config file"), source);
  if (!root.IsMap() && !root.IsNull())
    throw InputError(source + ": expected a map of sections (run:, model:, ...) at the top level, got " +
                     kind_of(root));
  return root;
}

// One file of a base chain. `chain` holds the canonical paths of the files that led here (for
// cycle detection) and `shown` the same files as the user would recognise them (for the message).
Config load_file(const fs::path& path, std::vector<fs::path>& chain, std::vector<std::string>& shown) {
  const std::string source = path.string();
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(path, ec);
  if (ec) canonical = fs::absolute(path).lexically_normal();  // still unique enough for cycles
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end())
    throw InputError(source + ": base cycle: " + detail::join(shown, " -> ") + " -> " + source);
  chain.push_back(canonical);
  shown.push_back(source);

  const YAML::Node root = parse_yaml(source, nullptr, &path);
  YamlReader reader(root, source, "");
  Config c;  // defaults, unless a base replaces them
  if (const std::optional<YAML::Node> taken = reader.take("base")) {
    const YAML::Node& base = *taken;
    if (!base.IsScalar() || base.Scalar().empty())
      throw InputError(source + ": base: expected a file path, got " + kind_of(base) + at_line(base.Mark()));
    const fs::path named = base.Scalar();
    // Relative to the file naming it, not to the working directory: presets stay loadable from
    // anywhere. lexically_normal turns configs/examples/../gpt2-124m.yaml into a readable name.
    const fs::path resolved = (named.is_absolute() ? named : path.parent_path() / named).lexically_normal();
    if (!fs::is_regular_file(resolved, ec))
      throw InputError(source + ": base file " + single_quoted(base.Scalar()) + " not found (looked for " +
                       single_quoted(resolved.string()) + ")" + at_line(base.Mark()));
    c = load_file(resolved, chain, shown);
  }
  c.visit(reader);
  reader.finish();
  chain.pop_back();
  shown.pop_back();
  return c;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  return std::string(s.substr(first, s.find_last_not_of(" \t") - first + 1));
}

// Sets the one field named by a dotted path ("optim.lr" -> {"optim", "lr"}). Walks the same
// visit() lists as YamlReader and uses the same parse_field, so the command line and the file
// agree on every type rule. At each level it remembers the names it saw, for the unknown-key
// message.
class Overrider {
 public:
  Overrider(const std::vector<std::string>& path, size_t depth, const std::string& value,
            const std::string& assignment)
      : path_(path), depth_(depth), value_(value), assignment_(assignment) {}

  template <class T> void operator()(const char* name, T& field) {
    known_.emplace_back(name);
    if (matched_ || path_[depth_] != name) return;
    matched_ = true;
    if constexpr (detail::Section<T>) {
      if (depth_ + 1 == path_.size())
        throw InputError("override " + single_quoted(assignment_) + ": '" + dotted(depth_ + 1) +
                         "' is a section; name one of its keys, e.g. " + dotted(depth_ + 1) + ".<key>=" +
                         value_);
      Overrider inner(path_, depth_ + 1, value_, assignment_);
      field.visit(inner);
      inner.finish();
    } else {
      static_assert(detail::Scalar<T>, "config field of an unsupported type: add it to fields.h");
      if (depth_ + 1 != path_.size()) throw unknown();  // "optim.lr.x": lr has no keys below it
      if (auto problem = detail::parse_field(value_, field))
        throw InputError("override " + dotted(path_.size()) + ": " + *problem);
    }
  }

  void finish() const {
    if (!matched_) throw unknown();
  }

 private:
  std::string dotted(size_t n) const {
    return detail::join(std::vector<std::string>(path_.begin(), path_.begin() + long(n)), ".");
  }
  InputError unknown() const {
    const std::string where = depth_ == 0 ? "sections are: " : dotted(depth_) + " has: ";
    return InputError("override " + single_quoted(assignment_) + ": unknown key '" + dotted(path_.size()) +
                      "' (" + where + detail::join(known_) + ")");
  }

  const std::vector<std::string>& path_;
  size_t depth_;
  const std::string& value_;
  const std::string& assignment_;
  bool matched_ = false;
  std::vector<std::string> known_;
};

}  // namespace

Config config_from_yaml_string(const std::string& yaml, const std::string& source_name) {
  const YAML::Node root = parse_yaml(source_name, &yaml, nullptr);
  YamlReader reader(root, source_name, "");
  if (reader.take("base"))
    throw InputError(source_name + ": base: is only supported in config files (it is resolved "
                                   "relative to the file's folder); use load_config");
  Config c;
  c.visit(reader);
  reader.finish();
  return c;
}

void apply_override(Config& c, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  const std::string key = trim(std::string_view(assignment).substr(0, eq));
  if (eq == std::string::npos || key.empty())
    throw InputError("override " + single_quoted(assignment) + ": expected section.key=value, e.g. optim.lr=3e-4");
  std::vector<std::string> path;
  for (size_t start = 0;;) {  // split on '.'; empty parts ("optim..lr") simply match nothing
    const size_t dot = key.find('.', start);
    path.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const std::string value = assignment.substr(eq + 1);
  Overrider o(path, 0, value, assignment);
  c.visit(o);
  o.finish();
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw InputError(path + ": config file not found" +
                     std::string(fs::exists(path, ec) ? " (it is not a regular file)" : ""));
  std::vector<fs::path> chain;
  std::vector<std::string> shown;
  Config c = load_file(path, chain, shown);
  for (const std::string& o : overrides) apply_override(c, o);
  // Validation problems name the key and value; the prefix says which run they belong to.
  const std::vector<std::string> problems = validation_problems(c);
  if (!problems.empty())
    throw InputError(path + (overrides.empty() ? "" : " (with overrides)") + ": invalid config: " +
                     detail::join(problems, "; "));
  return c;
}

}  // namespace configs
