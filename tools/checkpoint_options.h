// tools/checkpoint_options.h
// Flags shared by the commands that use a trained checkpoint (eval, sample, export), so they read alike.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace tools {

inline void add_checkpoint_option(CLI::App* cmd, std::string& checkpoint) {
  cmd->add_option("--checkpoint", checkpoint,
                  "checkpoint folder, or a run (or its checkpoints/) folder: the checkpoint `latest` names")
      ->required();
}

inline void add_device_options(CLI::App* cmd, std::string& device, std::string& precision) {
  cmd->add_option("--device", device, "auto | cpu | cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--precision", precision, "auto (fp32 on the CPU, bf16 on a GPU) | fp32 | bf16 | fp16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16"}));
}

}  // namespace tools
