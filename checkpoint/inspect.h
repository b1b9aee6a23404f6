// checkpoint/inspect.h
// Describing (and with verify, checking every CRC of) one checkpoint: what `kiln inspect DIR
// [--verify]` reports for a checkpoint folder.
//
// Called by tools/cmd_inspect.cpp (hooked up by the integrator) and tests. DIR is a checkpoint
// folder (holding manifest.yaml) or a checkpoints folder holding `latest`, which is followed.
// Every problem is a kernels::InputError naming the file (CONTRACTS §6: the CLI exits 2).
#pragma once

#include <string>

namespace checkpoint {

// One line of JSON, e.g.
// {"kind":"checkpoint","step":1000,"tokens":524288000,"layout":{"dp":2,"tp":2,"zero":1},
//  "tensors":592,"bytes":1741000000,"verified":true}
// `bytes` counts the stored slice bytes; `verified` is true only when verify ran and passed.
std::string inspect_json(const std::string& dir, bool verify);

// Prints a header, one row per tensor (name, dtype, global shape, split, tp, slices, bytes) and
// the inspect_json line last, to stdout.
void print_inspect(const std::string& dir, bool verify);

}  // namespace checkpoint
