// tools/main.cpp
// `kiln`: one binary, one subcommand per file (CONTRACTS §1). Maps failures to exit codes:
//   0 success, 2 bad usage / config / input file (kernels::InputError, CLI parse errors),
//   1 anything else: system failures (std::runtime_error: disk full, I/O errors) print "kiln: error:",
//   internal errors go through kernels::fail, which exits 1 itself.
#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

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
  // CLI11 would answer "A subcommand is required" for a mistyped one: name it and list the real ones.
  std::string names;
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "kiln: error: unknown command '%s' (commands: %s; see kiln --help)\n", argv[1], names.c_str());
    return 2;
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
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "%skiln: error: out of memory\n", kernels::rank_prefix().c_str());
    return 1;
  } catch (const std::runtime_error& e) {
    // The system failed us (disk full, I/O error, a thread that could not start): exit 1, the message as is.
    std::fflush(stdout);
    std::fprintf(stderr, "%skiln: error: %s\n", kernels::rank_prefix().c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%skiln: internal error: %s\n", kernels::rank_prefix().c_str(), e.what());
    return 1;
  }
  return 0;
}
