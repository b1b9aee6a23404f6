// configs/load.h
// The experiment config's way in and out (CONTRACTS §2): YAML file with `base:` inheritance,
// dotted command-line overrides, the resolved YAML written to the run folder, and equality.
//
// Called by tools/ (`kiln train CONFIG.yaml key=value ...` -> load_config, then write_config into
// the run folder before step 0) and by checkpoint/ (the manifest embeds to_yaml; a resume compares
// configs with operator== / differences). Value checks live in configs/validate.h.
//
// Every user mistake throws kernels::InputError (the CLI exits 2) with a message that names the
// file, the dotted key, the value and what was expected, e.g.
//   configs/x.yaml: unknown key 'optim.learning_rate' (line 4; optim has: lr, min_lr, ...)
//   configs/x.yaml: model.n_layer: expected an integer, got 'twelve' (line 3)
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "configs/config.h"

namespace configs {

// Reads `path` (following `base:` chains), applies `overrides` in order ("section.key=value"),
// then validate(). `base:` is absolute or relative to the file that names it; keys in a file
// override its base per key, so a child that sets only optim.lr keeps the base's other optim keys.
// A missing file or base, a base cycle, a YAML syntax error, an unknown key, a wrong type or a
// failed validation throws kernels::InputError naming the file.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Parses YAML text as if it were a file called `source_name` (used in messages). `base:` is not
// allowed here (there is no folder to resolve it against). Does not validate(), so tests can build
// deliberately invalid configs and hand them to validate() themselves.
Config config_from_yaml_string(const std::string& yaml, const std::string& source_name);

// Applies one "section.key=value" assignment with the YAML type rules (ints reject 3.5, doubles
// take 6e-4, bools true/false; strings take the text after '=' verbatim, quotes included, since
// the shell has already removed the user's). Throws InputError for a missing '=', an unknown key
// or a bad value. Does not validate(): load_config validates once after all overrides.
void apply_override(Config& c, const std::string& assignment);

// The resolved config as YAML: every section and every key, no `base:`. load_config on this text
// gives back an equal Config (doubles are printed in their shortest exact form).
std::string to_yaml(const Config& c);

// Writes to_yaml(c) to `path` atomically: a temp file next to it, fsynced, then renamed over
// `path`, so a crash leaves the old file or the new one, never half of one. Creates the parent
// folder if needed. Throws std::runtime_error naming the path on an I/O failure (exit 1: not the
// user's config at fault).
void write_config(const Config& c, const std::string& path);

// Field-by-field equality (doubles compared exactly).
bool operator==(const Config& a, const Config& b);

// Prints to_yaml(c): makes EXPECT_EQ(config_a, config_b) failures in tests readable.
std::ostream& operator<<(std::ostream& os, const Config& c);

// The keys where `a` and `b` differ, as "model.d_ff: 3072 vs 4096", in visit() order; empty when
// equal. For messages such as "checkpoint was written with a different model config".
std::vector<std::string> differences(const Config& a, const Config& b);

}  // namespace configs
