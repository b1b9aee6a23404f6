// tools/commands.h
// The `kiln` subcommands, one file each. Every add_*_command registers its flags on the app and a
// callback that runs the command; bad input is thrown as kernels::InputError and becomes exit 2 in
// main.cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace tools {

void add_train_command(CLI::App& app);
void add_prepare_command(CLI::App& app);
void print_version();

}  // namespace tools
