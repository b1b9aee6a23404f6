// kernels/yaml_strict.h
// The one front door for every YAML file kiln reads from a user's disk: experiment configs
// (configs/load.cpp), checkpoint manifests and their embedded config (checkpoint/manifest.cpp),
// per-rank slice lists and tokenizer.yaml (data/tokenizer.cpp).
//
// Why a second reader: yaml-cpp 0.7 accepts text that the YAML specification rejects and then
// builds a tree that is not what the user wrote. `name: "typo-run` (no closing quote) swallows the
// rest of the file into one string and the run trains another model, exit 0. So the text is first
// parsed by libyaml, a strict reader, event by event (no recursion, so no stack overflow on deep
// nesting), and only then by yaml-cpp; the two trees must then be equal. What is refused, each as
// a kernels::InputError "<source>: YAML syntax error at line L, column C: <what>" (exit 2):
//  - anything libyaml rejects (unterminated quotes or flow collections, bad indentation, tabs, ...)
//  - more than one document (yaml-cpp silently keeps the first)
//  - a carriage return without a line feed (a line break for YAML, part of the value for yaml-cpp)
//  - nesting deeper than kYamlMaxDepth (yaml-cpp recurses per level and would overflow the stack)
//  - anchors, aliases and tags (never needed in kiln's files; aliases would let a small file
//    expand into a huge tree)
//  - any place where yaml-cpp's tree differs from libyaml's (a yaml-cpp bug we have not met yet)
// Lives in kernels/ because configs/, data/ and checkpoint/ all read YAML and kernels/ is the
// only folder they share. Does not interpret values: that is the caller's job.
#pragma once

#include <cstddef>
#include <string>

#include <yaml-cpp/yaml.h>

#include "kernels/check.h"

namespace kernels {

// The InputError thrown when yaml-cpp's tree differs from libyaml's: still exit 2 for the user,
// but its own type so the config fuzzer can treat it as a finding (a misreading not yet refused
// with a precise reason).
struct YamlReadersDisagree : InputError {
  using InputError::InputError;
};

inline constexpr int kYamlMaxDepth = 64;                      // maps/lists inside each other
inline constexpr size_t kYamlMaxBytes = size_t{256} << 20;    // a manifest of a huge model is ~MBs

// Checks `text` as described above and returns yaml-cpp's tree of it. `source` names the text in
// messages (a path, or "manifest.yaml (config)").
YAML::Node load_yaml_strict(const std::string& text, const std::string& source);

// Reads a whole file for load_yaml_strict: refuses what is not a regular file (a FIFO would block
// forever, a folder reads as an I/O error), files over kYamlMaxBytes, and read errors, each as an
// InputError naming the path and the system's reason. `what` says what the file is ("config
// file"). Returns the bytes.
std::string read_user_text_file(const std::string& path, const std::string& what);

}  // namespace kernels
