// tools/commands.h
// The `kiln` subcommands, one file each. Every add_*_command registers its flags on the app and a
// callback that runs the command; bad input is thrown as kernels::InputError and becomes exit 2 in
// main.cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace tools {

// Thrown by a command to end the process with a specific exit code (e.g. 3: stopped by a signal
// after a clean checkpoint, CONTRACTS §1). main.cpp turns it into the return value.
struct ExitCode {
  int code;
};

void add_train_command(CLI::App& app);
void add_prepare_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_export_command(CLI::App& app);
void print_version();

}  // namespace tools
