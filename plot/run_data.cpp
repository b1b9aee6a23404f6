// plot/run_data.cpp
// Reads metrics.jsonl / eval.jsonl into RunData, and the legend labels of several runs.
#include "plot/run_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

#include "kernels/check.h"
#include "kernels/json_untrusted.h"

namespace plot {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// One parsed line with enough context to name it in an error ("runs/x/metrics.jsonl:12: ...").
struct Line {
  const std::string& file;
  int number;
  const Json& obj;

  [[noreturn]] void error(const std::string& what) const {
    throw kernels::InputError("plot: " + file + ":" + std::to_string(number) + ": " + what);
  }
  int64_t integer(const char* key) const {
    const auto it = obj.find(key);
    if (it == obj.end()) error(std::string("missing field \"") + key + "\" (expected an integer)");
    if (!it->is_number_integer())
      error(std::string("field \"") + key + "\" is " + kernels::describe_json(*it) + ", expected an integer");
    return it->get<int64_t>();
  }
  // The trainer writes a non-finite loss as null (JSON has no NaN): that is a gap, not an error.
  double number_or_nan(const char* key) const {
    const auto it = obj.find(key);
    if (it == obj.end()) error(std::string("missing field \"") + key + "\" (expected a number)");
    if (it->is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!it->is_number())
      error(std::string("field \"") + key + "\" is " + kernels::describe_json(*it) + ", expected a number");
    return it->get<double>();
  }
};

// Calls on_line for every non-empty line of `file`, parsed as a JSON object. Returns false when the
// file does not exist.
template <class OnLine>
bool for_each_json_line(const std::string& file, OnLine on_line) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return false;
  if (!fs::is_regular_file(file, ec))  // a FIFO would block the read forever
    throw kernels::InputError("plot: " + file + " is not a regular file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw kernels::InputError("plot: cannot read " + file);
  std::stringstream whole;
  whole << in.rdbuf();
  const std::string text = whole.str();
  size_t begin = 0;
  for (int number = 1; begin < text.size(); ++number) {
    size_t end = text.find('\n', begin);
    const bool complete = end != std::string::npos;
    if (!complete) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string why;
    const Json obj = kernels::parse_untrusted_json(line, &why);
    if (obj.is_discarded() || !obj.is_object()) {
      if (!complete) break;  // the trainer is appending this line right now: plot what is complete
      std::string shown;  // the start of the line, control bytes masked
      for (size_t i = 0; i < line.size() && i < 80; ++i)
        shown += (static_cast<unsigned char>(line[i]) < 0x20) ? '?' : line[i];
      throw kernels::InputError("plot: " + file + ":" + std::to_string(number) + ": not a JSON object" +
                                (obj.is_discarded() ? " (" + why + ")" : "") + ": " + shown);
    }
    on_line(Line{file, number, obj});
  }
  return true;
}

// "runs/tiny/" and "runs/tiny/." both name the folder "tiny": normalise before taking components.
fs::path normal_absolute(const std::string& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p;
}

// The last `n` components of `p`, joined with '/'.
std::string path_suffix(const fs::path& p, int n) {
  std::vector<std::string> parts;
  for (const fs::path& c : p)
    if (c != "/") parts.push_back(c.string());
  std::string s;
  const int first = std::max(0, int(parts.size()) - n);
  for (int i = first; i < int(parts.size()); ++i) s += (s.empty() ? "" : "/") + parts[i];
  return s;
}

}  // namespace

RunData read_run(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw kernels::InputError("plot: run folder " + dir + " does not exist (expected a folder written by kiln train, "
                              "holding metrics.jsonl)");
  }
  RunData run;
  run.dir = dir;
  run.label = path_suffix(normal_absolute(dir), 1);

  const std::string metrics = (fs::path(dir) / "metrics.jsonl").string();
  const bool found = for_each_json_line(metrics, [&](const Line& l) {
    run.train.push_back({l.integer("step"), l.integer("tokens"), l.number_or_nan("loss")});
  });
  if (!found) throw kernels::InputError("plot: " + metrics + " does not exist (is " + dir + " a kiln run folder?)");
  if (run.train.empty()) throw kernels::InputError("plot: " + metrics + " holds no logged steps yet");

  // eval.jsonl is optional: runs with eval.every = 0, or stopped before the first evaluation.
  for_each_json_line((fs::path(dir) / "eval.jsonl").string(), [&](const Line& l) {
    EvalPoint p{l.integer("step"), l.integer("tokens"), l.number_or_nan("val_loss"), 0.0};
    p.val_perplexity = l.obj.contains("val_perplexity") ? l.number_or_nan("val_perplexity") : std::exp(p.val_loss);
    run.eval.push_back(p);
  });
  return run;
}

void label_runs(std::vector<RunData>& runs) {
  std::vector<fs::path> paths;
  for (const RunData& r : runs) paths.push_back(normal_absolute(r.dir));
  for (size_t i = 0; i < runs.size(); ++i) {
    // Grow the suffix until no other folder's path ends the same way. The same folder given twice
    // is one run drawn twice: it does not count as a clash.
    const int depth = int(std::distance(paths[i].begin(), paths[i].end()));
    for (int n = 1; n <= depth; ++n) {
      runs[i].label = path_suffix(paths[i], n);
      bool clash = false;
      for (size_t j = 0; j < runs.size(); ++j)
        if (j != i && paths[j] != paths[i] && path_suffix(paths[j], n) == runs[i].label) clash = true;
      if (!clash) break;
    }
  }
}

}  // namespace plot
