// tests/fuzz/fuzz_config.cpp
// libFuzzer target: the experiment config loader. The input is YAML text, optionally followed by
// a line "#@overrides" and one dotted override per line. Properties checked:
//  - only kernels::InputError may come out of loading, overriding and validating;
//  - a config that loads round-trips: to_yaml -> load gives an equal config and the same text;
//  - where yaml-cpp and libyaml build different trees the text is refused (YamlReadersDisagree,
//    exit 2), never loaded; diff mode lists such texts, each kind worth a precise message.
// With KILN_FUZZ_YAML_DIFF=1 it also reports (once per kind, on stderr) texts yaml-cpp alone
// accepts that the strict reader refuses: how the refusals in tests/configs/test_yaml_strict.cpp
// were found.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "configs/load.h"
#include "configs/validate.h"
#include "kernels/check.h"
#include "kernels/yaml_strict.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("\n#@overrides\n");
  const std::string yaml = input.substr(0, split);
  std::vector<std::string> overrides;
  if (split != std::string::npos) {
    size_t at = split + 13;
    while (at < input.size() && overrides.size() < 16) {
      const size_t nl = input.find('\n', at);
      overrides.push_back(input.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
  }
  static const bool diff = std::getenv("KILN_FUZZ_YAML_DIFF") != nullptr;
  configs::Config c;
  try {
    c = configs::config_from_yaml_string(yaml, "fuzz.yaml");
  } catch (const kernels::YamlReadersDisagree& e) {
    // Refused (exit 2 with the line), so never silently misread; listed in diff mode because each
    // kind deserves a precise message of its own (the lone \r got one this way).
    if (diff) std::fprintf(stderr, "[yaml-cpp and libyaml build different trees] %s\n---\n%s\n---\n", e.what(), yaml.c_str());
    return 0;
  } catch (const kernels::InputError& e) {
    const std::string msg = e.what();
    if (diff && msg.find("YAML syntax error") != std::string::npos) {
      bool yaml_cpp_accepts = true;
      try {
        YAML::Load(yaml);  // deep inputs were refused before reaching here, so this cannot overflow
      } catch (const YAML::Exception&) {
        yaml_cpp_accepts = false;
      }
      static std::set<std::string> kinds;
      const size_t colon = msg.find(": ", msg.find("column"));
      const std::string kind = msg.substr(colon == std::string::npos ? 0 : colon + 2, 60);
      if (yaml_cpp_accepts && kinds.insert(kind).second)
        std::fprintf(stderr, "[yaml-cpp accepts, strict refuses] %s\n---\n%s\n---\n", kind.c_str(), yaml.c_str());
    }
    return 0;
  }
  // Round trip: what kiln writes into every run folder must read back as the same config. kiln
  // writes config.yaml only for a config that passed validation (a name with a control character,
  // e.g. "\r" from a quoted escape, is refused with exit 2 first: regressions/config), so the
  // round trip is asked of those.
  if (!configs::validation_problems(c).empty()) return 0;
  const std::string text = configs::to_yaml(c);
  configs::Config back;
  try {
    back = configs::config_from_yaml_string(text, "round-trip.yaml");
  } catch (const kernels::InputError& e) {
    std::fprintf(stderr, "to_yaml output does not load: %s\n%s\n", e.what(), text.c_str());
    std::abort();
  }
  if (!(back == c) || configs::to_yaml(back) != text) {
    std::fprintf(stderr, "round trip changed the config:\n%s\n", text.c_str());
    std::abort();
  }
  try {
    for (const std::string& o : overrides) configs::apply_override(c, o);
    configs::validate(c);
  } catch (const kernels::InputError&) {
  }
  return 0;
}
