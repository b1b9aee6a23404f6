// configs/validate.h
// Checks on config values and on relations between keys (CONTRACTS §2, §6), run before anything
// is allocated. load_config() calls validate_problems() itself; tools and tests that build a
// Config by hand call validate().
//
// Every problem names the dotted key, the offending value and what was expected, e.g.
//   parallel.tp: expected an integer >= 1, got 0
//   train.global_batch: expected a multiple of train.micro_batch (16), got 500
// Checks that need the world size (dp) live in accumulation_steps(), called once the launcher
// knows it.
#pragma once

#include <string>
#include <vector>

#include "configs/config.h"

namespace configs {

// Writes the defaults of the architecture-dependent model keys that model.arch uses and the config
// leaves unset (tie_embeddings; for llama also n_kv_head, rope_theta, norm_eps: ModelConfig's
// accessors say which values), so a loaded config lists them. Keys another architecture uses stay
// as they are (validation refuses them when set). Called by load_config, config_from_yaml_string,
// to_yaml and differences.
void resolve_defaults(Config& c);
// Every problem found, in visit() order of the keys; empty when the config is valid.
std::vector<std::string> validation_problems(const Config& c);

// Throws kernels::InputError listing every problem ("invalid config: a; b; c").
void validate(const Config& c);

// Micro-batches per optimizer step on each rank: global_batch / (micro_batch * dp). Throws
// kernels::InputError naming train.global_batch, train.micro_batch and dp when it does not divide
// exactly (a fractional step would silently change the batch size), or when dp < 1.
int accumulation_steps(const Config& c, int dp);

}  // namespace configs
