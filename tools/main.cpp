// tools/main.cpp
// `kiln`: one binary, one subcommand per file (CONTRACTS §1). Maps failures to exit codes:
//   0 success, 2 bad usage / config / input file (kernels::InputError, CLI parse errors),
//   1 anything else (internal errors go through kernels::fail, which exits 1 itself).
#include <cstdio>
#include <exception>

#include "kernels/check.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: pretrain GPT-2 style language models on CPUs and GPUs.\n"
               "Run `kiln COMMAND --help` for the flags of each command."};
  app.require_subcommand(1);
  bool version = false;
  app.add_flag("--version", version, "print the version and build features (CUDA, NCCL, cuDNN, MPI, HDF5) and exit");
  tools::add_train_command(app);
  tools::add_prepare_command(app);
  tools::add_inspect_command(app);
  tools::add_eval_command(app);
  tools::add_sample_command(app);
  tools::add_plot_command(app);
  tools::add_export_command(app);
  // --version needs no subcommand.
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--version") {
      tools::print_version();
      return 0;
    }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const tools::ExitCode& e) {
    return e.code;
  } catch (const kernels::InputError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%skiln: error: %s\n", kernels::rank_prefix().c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%skiln: internal error: %s\n", kernels::rank_prefix().c_str(), e.what());
    return 1;
  }
  return 0;
}
