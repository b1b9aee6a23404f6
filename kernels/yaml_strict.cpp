// kernels/yaml_strict.cpp
// load_yaml_strict() and read_user_text_file() (kernels/yaml_strict.h): libyaml's event stream
// becomes a small tree (StrictNode), checked for depth, documents, anchors and tags while it is
// built; then yaml-cpp parses the same text and the two trees are compared node by node.
#include "kernels/yaml_strict.h"

#include <sys/stat.h>
#include <yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/check.h"

namespace kernels {
namespace {

// What libyaml saw: scalars keep their text and whether they were plain (unquoted), collections
// their children (maps alternate key, value). Marks are 0-based, as libyaml counts.
struct StrictNode {
  enum Kind { kScalar, kSeq, kMap } kind = kScalar;
  std::string text;
  bool plain = false;
  size_t line = 0, column = 0;
  std::vector<StrictNode> kids;
};

std::string at(size_t line, size_t column) {
  return "line " + std::to_string(line + 1) + ", column " + std::to_string(column + 1);
}

[[noreturn]] void syntax_error(const std::string& source, size_t line, size_t column, const std::string& what) {
  throw InputError(source + ": YAML syntax error at " + at(line, column) + ": " + what);
}

// libyaml's own diagnosis: "found unexpected end of stream while scanning a quoted scalar that
// starts at line 2, column 13".
[[noreturn]] void libyaml_error(const yaml_parser_t& p, const std::string& source) {
  if (p.error == YAML_MEMORY_ERROR) throw std::bad_alloc();
  std::string what = p.problem ? p.problem : "not valid YAML";
  if (p.error == YAML_READER_ERROR) {  // bytes that are not YAML text (invalid UTF-8, control chars)
    throw InputError(source + ": not valid YAML text at byte " + std::to_string(p.problem_offset + 1) + ": " + what +
                     " (YAML files are UTF-8 text)");
  }
  if (p.context) {
    what += std::string(" ") + p.context + " that starts at " + at(p.context_mark.line, p.context_mark.column);
    if (std::strstr(p.context, "quoted scalar")) what += " (a quote that is never closed?)";
    else if (std::strstr(p.context, "flow")) what += " (a [ or { that is never closed?)";
  }
  syntax_error(source, p.problem_mark.line, p.problem_mark.column, what);
}

// Owns a libyaml parser / event (C structs with explicit delete functions).
struct Parser {
  yaml_parser_t p{};
  Parser() {
    if (!yaml_parser_initialize(&p)) throw std::bad_alloc();
  }
  ~Parser() { yaml_parser_delete(&p); }
};
struct Event {
  yaml_event_t e{};
  ~Event() { yaml_event_delete(&e); }
};

// Parses `text` with libyaml into a tree; nullptr for a stream without a document (an empty file or
// only comments). Throws InputError for everything the header lists except a tree mismatch.
std::unique_ptr<StrictNode> parse_with_libyaml(const std::string& text, const std::string& source) {
  Parser parser;
  yaml_parser_set_input_string(&parser.p, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::unique_ptr<StrictNode> root;
  std::vector<StrictNode*> open;  // innermost open collection last; children append to it
  int documents = 0;
  for (;;) {
    Event ev;
    if (!yaml_parser_parse(&parser.p, &ev.e)) libyaml_error(parser.p, source);
    const yaml_mark_t m = ev.e.start_mark;
    const auto refuse_decorations = [&](const yaml_char_t* anchor, const yaml_char_t* tag) {
      if (anchor) syntax_error(source, m.line, m.column, "anchors (&name) are not supported in kiln's YAML files");
      if (tag) syntax_error(source, m.line, m.column, "tags (!name) are not supported in kiln's YAML files");
    };
    const auto add = [&](StrictNode n) -> StrictNode* {
      n.line = m.line;
      n.column = m.column;
      if (open.empty()) {
        root = std::make_unique<StrictNode>(std::move(n));
        return root.get();
      }
      open.back()->kids.push_back(std::move(n));
      return &open.back()->kids.back();
    };
    switch (ev.e.type) {
      case YAML_STREAM_END_EVENT: return root;
      case YAML_DOCUMENT_START_EVENT:
        if (++documents > 1)
          syntax_error(source, m.line, m.column, "a second YAML document starts here (kiln's files hold one)");
        break;
      case YAML_ALIAS_EVENT:
        syntax_error(source, m.line, m.column, "aliases (*name) are not supported in kiln's YAML files");
      case YAML_SCALAR_EVENT: {
        refuse_decorations(ev.e.data.scalar.anchor, ev.e.data.scalar.tag);
        StrictNode n;
        n.text.assign(reinterpret_cast<const char*>(ev.e.data.scalar.value), ev.e.data.scalar.length);
        n.plain = ev.e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        add(std::move(n));
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        const bool seq = ev.e.type == YAML_SEQUENCE_START_EVENT;
        if (seq) refuse_decorations(ev.e.data.sequence_start.anchor, ev.e.data.sequence_start.tag);
        else refuse_decorations(ev.e.data.mapping_start.anchor, ev.e.data.mapping_start.tag);
        if (int(open.size()) >= kYamlMaxDepth)
          syntax_error(source, m.line, m.column,
                       "nested deeper than " + std::to_string(kYamlMaxDepth) + " levels of maps and lists");
        StrictNode n;
        n.kind = seq ? StrictNode::kSeq : StrictNode::kMap;
        open.push_back(add(std::move(n)));
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: open.pop_back(); break;
      default: break;  // stream start, document end, no-event
    }
  }
}

// yaml-cpp turns a plain (unquoted, untagged) scalar spelled like this into a null node.
bool is_null_spelling(const std::string& s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

// The first node where yaml-cpp's tree differs from libyaml's, or nullptr when they are equal.
const StrictNode* first_difference(const StrictNode& s, const YAML::Node& y) {
  switch (s.kind) {
    case StrictNode::kScalar:
      if (s.plain && is_null_spelling(s.text)) return y.IsNull() ? nullptr : &s;
      return y.IsScalar() && y.Scalar() == s.text ? nullptr : &s;
    case StrictNode::kSeq: {
      if (!y.IsSequence() || y.size() != s.kids.size()) return &s;
      for (size_t i = 0; i < s.kids.size(); ++i)
        if (const StrictNode* d = first_difference(s.kids[i], y[i])) return d;
      return nullptr;
    }
    case StrictNode::kMap: {
      if (!y.IsMap() || 2 * y.size() != s.kids.size()) return &s;
      size_t i = 0;  // yaml-cpp keeps map pairs in file order, duplicates included
      for (auto it = y.begin(); it != y.end(); ++it, i += 2) {
        if (const StrictNode* d = first_difference(s.kids[i], it->first)) return d;
        if (const StrictNode* d = first_difference(s.kids[i + 1], it->second)) return d;
      }
      return nullptr;
    }
  }
  return &s;
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

YAML::Node load_yaml_strict(const std::string& text, const std::string& source) {
  if (text.size() > kYamlMaxBytes)
    throw InputError(source + ": " + std::to_string(text.size()) + " bytes of YAML, more than the " +
                     std::to_string(kYamlMaxBytes) + " kiln reads");
  // A carriage return not followed by a line feed ends a line for YAML (and libyaml) but not for
  // yaml-cpp, which keeps it inside the value: `lr: 2.0e\r4` would be two different numbers.
  // Found by the config fuzzer; \r\n (Windows) line ends read the same in both and are fine.
  for (size_t i = 0, line = 0, col = 0; i < text.size(); ++i, ++col) {
    if (text[i] == '\n') {
      ++line;
      col = size_t(-1);
    } else if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) {
      syntax_error(source, line, col,
                   "a carriage return (\\r) without a line feed; save the file with \\n or \\r\\n line ends");
    }
  }
  const std::unique_ptr<StrictNode> strict = parse_with_libyaml(text, source);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    syntax_error(source, size_t(std::max(0, e.mark.line)), size_t(std::max(0, e.mark.column)), e.msg);
  }
  const StrictNode* d = nullptr;
  if (!strict) {
    if (!root.IsNull()) throw YamlReadersDisagree(source + ": YAML readers disagree about this file (it holds no document)");
  } else {
    d = first_difference(*strict, root);
  }
  if (d) {
    throw YamlReadersDisagree(source + ": YAML syntax error at " + at(d->line, d->column) +
                              ": yaml-cpp (kiln's YAML library) reads this differently from the YAML "
                              "specification; write it more plainly (quote a string value, put a list or "
                              "map on its own lines)");
  }
  return root;
}

std::string read_user_text_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw InputError(path + ": " + what + " not found (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) throw InputError(path + ": " + what + " is " + file_kind(st.st_mode) + ", expected a file");
  if (uint64_t(st.st_size) > kYamlMaxBytes)
    throw InputError(path + ": " + what + " is " + std::to_string(st.st_size) + " bytes, more than the " +
                     std::to_string(kYamlMaxBytes) + " kiln reads");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InputError(path + ": cannot open the " + what + " (" + std::strerror(errno) + ")");
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof buf, f);
    out.append(buf, n);
    if (out.size() > kYamlMaxBytes) break;  // a file that grows while read (procfs, a log)
    if (n < sizeof buf) break;
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) throw InputError(path + ": cannot read the " + what + " (" + std::strerror(err) + ")");
  if (out.size() > kYamlMaxBytes)
    throw InputError(path + ": " + what + " is more than the " + std::to_string(kYamlMaxBytes) + " bytes kiln reads");
  return out;
}

}  // namespace kernels
