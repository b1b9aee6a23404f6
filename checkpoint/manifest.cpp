// checkpoint/manifest.cpp
// manifest.yaml: writing it (rank 0, at commit) and reading it back with every field validated.
//
// Called by commit.cpp (emit_manifest, then parse_manifest on the emitted text, so a manifest that
// would not load is never committed), by read_manifest's callers (resume, load, inspect), and by
// tests. Does not touch HDF5 files: whether the slices exist and match their CRCs is verify()'s job.
//
// Every problem is a kernels::InputError "<dir>/manifest.yaml: <where>: <what>": a manifest is user
// input the moment it is on disk (copied, edited, damaged), and CONTRACTS §5 says such a folder is
// never loaded.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "checkpoint/internal.h"
#include "data/io.h"
#include "kernels/check.h"
#include "kernels/yaml_strict.h"

namespace checkpoint {

const Manifest::Entry* Manifest::find(const std::string& name) const {
  for (const Entry& e : tensors)
    if (e.name == name) return &e;
  return nullptr;
}

namespace detail {
namespace {

constexpr const char* kCrcKey = "manifest_crc32c: ";

// The config is written as a literal block (readable) when that round-trips exactly; some
// strings (leading spaces, no final newline, control characters) only survive double quoting.
bool literal_round_trips(const std::string& s) {
  if (s.empty()) return false;
  YAML::Emitter e;
  // Another key follows, as in the manifest: a literal at the very end of a document loses its
  // final line break, one followed by more keys keeps it.
  e << YAML::BeginMap << YAML::Key << "c" << YAML::Value << YAML::Literal << s;
  e << YAML::Key << "d" << YAML::Value << 0 << YAML::EndMap;
  try {
    return e.good() && YAML::Load(e.c_str())["c"].as<std::string>() == s;
  } catch (const YAML::Exception&) {
    return false;
  }
}

void emit_shape(YAML::Emitter& out, const kernels::Shape& s) {
  out << YAML::Flow << YAML::BeginSeq;
  for (int i = 0; i < s.ndim; ++i) out << s[i];
  out << YAML::EndSeq;
}

// ---- reading helpers: each names the file and the place in it ----------------------------------
struct Where {
  const std::string& path;
  std::string at;  // "tensors[3] (master/wte): slices[1]"
  [[noreturn]] void bad(const std::string& what) const {
    throw kernels::InputError(path + ": " + (at.empty() ? "" : at + ": ") + what);
  }
};

YAML::Node need(const YAML::Node& n, const char* key, const Where& w) {
  if (!n.IsMap()) w.bad("expected a mapping");
  YAML::Node v = n[key];
  if (!v) w.bad(std::string("missing key '") + key + "'");
  return v;
}

template <class T>
T get(const YAML::Node& n, const char* key, const Where& w, const char* type) {
  const YAML::Node v = need(n, key, w);
  if (!v.IsScalar()) w.bad(std::string("'") + key + "' must be " + type);
  try {
    return v.as<T>();
  } catch (const YAML::Exception&) {
    w.bad(std::string("'") + key + "' is '" + v.Scalar() + "', expected " + type);
  }
}

int64_t get_nonneg(const YAML::Node& n, const char* key, const Where& w) {
  const int64_t v = get<int64_t>(n, key, w, "an integer");
  if (v < 0) w.bad(std::string("'") + key + "' is negative");
  return v;
}

kernels::Shape get_shape(const YAML::Node& n, const Where& w) {
  const YAML::Node s = need(n, "shape", w);
  if (!s.IsSequence() || s.size() < 1 || s.size() > size_t(kernels::kMaxDims))
    w.bad("'shape' must be a list of 1 to 4 dimensions");
  kernels::Shape shape;
  shape.ndim = int(s.size());
  int64_t numel = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    try {
      shape.dims[i] = s[i].as<int64_t>();
    } catch (const YAML::Exception&) {
      w.bad("'shape' holds a non-integer dimension");
    }
    // Positive, and the element count fits int64: Shape::numel and every offset computed from
    // it later may then be evaluated without overflow.
    if (shape.dims[i] < 1 || __builtin_mul_overflow(numel, shape.dims[i], &numel))
      w.bad("'shape' dimension " + std::to_string(i) + " is " + std::to_string(shape.dims[i]) +
            " (expected >= 1, and a total element count that fits 64 bits)");
  }
  return shape;
}

// Every element of the tensor must be held by some slice: per tp rank for a split tensor, by the
// union of all slices for a replicated one (any tp rank's copy serves). A gap means a rank's file
// is missing from the list, i.e. an incomplete checkpoint.
void check_coverage(const Manifest::Entry& e, const Where& w) {
  const bool shared = e.split == parallel::Split::kReplicated || e.tp == 1;
  const int64_t n = parallel::local_shape(e.global_shape, e.split, e.tp).numel();
  std::map<int, std::vector<std::pair<int64_t, int64_t>>> ranges;
  for (const auto& s : e.slices) ranges[shared ? 0 : s.tp_rank].push_back({s.local_begin, s.local_begin + s.count});
  const int domains = shared ? 1 : e.tp;
  for (int r = 0; r < domains; ++r) {
    auto& v = ranges[r];
    std::sort(v.begin(), v.end());
    int64_t covered = 0;
    for (const auto& [b, end] : v) {
      if (b > covered) break;
      covered = std::max(covered, end);
    }
    if (covered < n)
      w.bad("slices do not cover the tensor: tp_rank " + std::to_string(r) + " has no slice holding local element " +
            std::to_string(covered) + " of " + std::to_string(n));
  }
}

}  // namespace

std::string emit_manifest(const RunState& st, const std::vector<Manifest::Entry>& tensors) {
  YAML::Emitter out;
  out.SetDoublePrecision(17);  // loss_scale round-trips exactly
  out << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << "kiln_checkpoint";
  out << YAML::Key << "format_version" << YAML::Value << kFormatVersion;
  out << YAML::Key << "step" << YAML::Value << st.step;
  out << YAML::Key << "tokens" << YAML::Value << st.tokens;
  out << YAML::Key << "loss_scale" << YAML::Value << st.loss_scale;
  out << YAML::Key << "skipped_steps" << YAML::Value << st.skipped_steps;
  out << YAML::Key << "loader" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "epoch" << YAML::Value << st.loader_epoch;
  out << YAML::Key << "position" << YAML::Value << st.loader_position << YAML::EndMap;
  out << YAML::Key << "seed" << YAML::Value << st.seed;
  out << YAML::Key << "layout" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "dp" << YAML::Value << st.dp << YAML::Key << "tp" << YAML::Value << st.tp;
  out << YAML::Key << "zero" << YAML::Value << st.zero << YAML::EndMap;
  out << YAML::Key << "config" << YAML::Value;
  if (literal_round_trips(st.config_yaml)) out << YAML::Literal;
  else out << YAML::DoubleQuoted;
  out << st.config_yaml;
  out << YAML::Key << "tensors" << YAML::Value << YAML::BeginSeq;
  for (const Manifest::Entry& e : tensors) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << e.name;
    out << YAML::Key << "dtype" << YAML::Value << kernels::dtype_name(e.dtype);
    out << YAML::Key << "shape" << YAML::Value;
    emit_shape(out, e.global_shape);
    out << YAML::Key << "split" << YAML::Value << parallel::split_name(e.split);
    out << YAML::Key << "tp" << YAML::Value << e.tp;
    out << YAML::Key << "slices" << YAML::Value << YAML::BeginSeq;
    for (const auto& s : e.slices) {
      out << YAML::Flow << YAML::BeginMap;
      out << YAML::Key << "file" << YAML::Value << s.file << YAML::Key << "dataset" << YAML::Value << s.dataset;
      out << YAML::Key << "tp_rank" << YAML::Value << s.tp_rank << YAML::Key << "begin" << YAML::Value << s.local_begin;
      out << YAML::Key << "count" << YAML::Value << s.count << YAML::Key << "crc32c" << YAML::Value
          << crc_hex(s.crc32c);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  KILN_CHECK(out.good(), std::string("manifest emitter: ") + out.GetLastError());
  std::string text = std::string(out.c_str()) + "\n";
  // The checksum line closes the file: a truncated manifest loses it and is rejected.
  text += kCrcKey + crc_hex(crc32c(text.data(), text.size())) + "\n";
  return text;
}

Manifest parse_manifest(const std::string& text, const std::string& path) {
  Where w{path, ""};
  const size_t at = text.rfind(std::string("\n") + kCrcKey);
  if (at == std::string::npos) w.bad("no manifest_crc32c line (truncated or not a kiln manifest)");
  uint32_t want = 0;
  std::string tail = text.substr(at + 1 + std::char_traits<char>::length(kCrcKey));
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) tail.pop_back();
  if (!parse_crc_hex(tail, &want)) w.bad("manifest_crc32c is not 8 hex digits");
  const uint32_t got = crc32c(text.data(), at + 1);
  if (got != want)
    w.bad("checksum mismatch (manifest_crc32c " + crc_hex(want) + ", contents " + crc_hex(got) +
          "): the file is damaged or was edited");

  // The strict reader (kernels/yaml_strict.h): yaml-cpp alone would accept, e.g., a config block
  // whose closing quote was lost and read the rest of the manifest into it.
  const YAML::Node root = kernels::load_yaml_strict(text, path);
  if (!root.IsMap()) w.bad("expected a YAML mapping");
  if (get<std::string>(root, "kind", w, "a string") != "kiln_checkpoint") w.bad("'kind' is not kiln_checkpoint");
  const int version = get<int>(root, "format_version", w, "an integer");
  if (version != kFormatVersion)
    w.bad("format_version " + std::to_string(version) + " is not supported (this kiln reads " +
          std::to_string(kFormatVersion) + ")");

  Manifest m;
  m.dir = data::io::parent_dir(path);
  RunState& st = m.state;
  st.step = get_nonneg(root, "step", w);
  st.tokens = get_nonneg(root, "tokens", w);
  st.loss_scale = get<double>(root, "loss_scale", w, "a number");
  st.skipped_steps = get_nonneg(root, "skipped_steps", w);
  const YAML::Node loader = need(root, "loader", w);
  st.loader_epoch = get<uint64_t>(loader, "epoch", w, "an unsigned integer");
  st.loader_position = get<uint64_t>(loader, "position", w, "an unsigned integer");
  st.seed = get<int64_t>(root, "seed", w, "an integer");
  const YAML::Node layout = need(root, "layout", w);
  st.dp = get<int>(layout, "dp", w, "an integer");
  st.tp = get<int>(layout, "tp", w, "an integer");
  st.zero = get<int>(layout, "zero", w, "an integer");
  if (st.dp < 1 || st.tp < 1 || st.zero < 0) w.bad("layout needs dp >= 1, tp >= 1, zero >= 0");
  st.config_yaml = get<std::string>(root, "config", w, "a string");

  const YAML::Node tensors = need(root, "tensors", w);
  if (!tensors.IsSequence()) w.bad("'tensors' must be a list");
  std::set<std::string> names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const YAML::Node t = tensors[i];
    Where wt{path, "tensors[" + std::to_string(i) + "]"};
    Manifest::Entry e;
    e.name = get<std::string>(t, "name", wt, "a string");
    wt.at += " (" + e.name + ")";
    if (e.name.empty() || !names.insert(e.name).second) wt.bad("empty or repeated tensor name");
    if (!parse_dtype(get<std::string>(t, "dtype", wt, "a string"), &e.dtype)) wt.bad("unknown dtype");
    e.global_shape = get_shape(t, wt);
    const std::string split = get<std::string>(t, "split", wt, "a string");
    if (!parallel::parse_split(split.c_str(), &e.split)) wt.bad("unknown split '" + split + "'");
    e.tp = get<int>(t, "tp", wt, "an integer");
    if (const std::string why = check_layout(e.global_shape, e.split, e.tp); !why.empty())
      wt.bad(e.global_shape.str() + " split " + split + " over tp " + std::to_string(e.tp) + ": " + why);
    const int64_t local_n = parallel::local_shape(e.global_shape, e.split, e.tp).numel();

    const YAML::Node slices = need(t, "slices", wt);
    if (!slices.IsSequence() || slices.size() == 0) wt.bad("'slices' must be a non-empty list");
    for (size_t j = 0; j < slices.size(); ++j) {
      const YAML::Node s = slices[j];
      const Where ws{path, wt.at + ": slices[" + std::to_string(j) + "]"};
      Manifest::Entry::Slice sl;
      sl.file = get<std::string>(s, "file", ws, "a string");
      // Only names this library writes: a manifest must never send load() outside its folder.
      if (!is_rank_file(sl.file)) ws.bad("file '" + sl.file + "' is not rank_NNNNN.h5");
      sl.dataset = get<std::string>(s, "dataset", ws, "a string");
      if (sl.dataset.empty()) ws.bad("empty dataset name");
      sl.tp_rank = get<int>(s, "tp_rank", ws, "an integer");
      sl.local_begin = get_nonneg(s, "begin", ws);
      sl.count = get_nonneg(s, "count", ws);
      if (sl.tp_rank < 0 || sl.tp_rank >= e.tp) ws.bad("tp_rank out of range for tp " + std::to_string(e.tp));
      // count > local_n - begin, not begin + count > local_n: the sum could wrap.
      if (sl.count == 0 || sl.local_begin > local_n || sl.count > local_n - sl.local_begin)
        ws.bad("range [" + std::to_string(sl.local_begin) + ", +" + std::to_string(sl.count) +
               ") is empty or outside the local shard of " + std::to_string(local_n) + " elements");
      if (!parse_crc_hex(get<std::string>(s, "crc32c", ws, "a string"), &sl.crc32c)) ws.bad("crc32c is not 8 hex digits");
      e.slices.push_back(std::move(sl));
    }
    check_coverage(e, wt);
    m.tensors.push_back(std::move(e));
  }
  return m;
}

}  // namespace detail

Manifest read_manifest(const std::string& checkpoint_dir) {
  const std::string path = checkpoint_dir + "/manifest.yaml";
  std::string text;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw kernels::InputError(path + ": no manifest (not a complete checkpoint)");
  if (!detail::read_text_file(path, &text)) throw kernels::InputError(path + ": cannot read the manifest");
  Manifest m = detail::parse_manifest(text, path);
  m.dir = checkpoint_dir;
  return m;
}

}  // namespace checkpoint
