// tools/cmd_plot.cpp
// `kiln plot RUN_DIR... [--out FILE.svg|FILE.png] [--smoothing W] [--width PX] [--height PX]`:
// loss and perplexity curves of one or more run folders, overlaid (CONTRACTS §1, §6).
//
// Registered by main.cpp. Only argument plumbing lives here: plot/run_data.cpp reads and checks the
// run folders, plot/render.cpp checks the options and writes the file; their InputErrors become
// exit 2 in main.cpp. Prints the path written, alone on stdout, so scripts can pick it up.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "plot/render.h"
#include "plot/run_data.h"
#include "tools/commands.h"

namespace tools {
namespace {

struct PlotArgs {
  std::vector<std::string> run_dirs;
  plot::PlotOptions options;
};

void run_plot(PlotArgs& a) {
  std::vector<plot::RunData> runs;
  for (const std::string& dir : a.run_dirs) runs.push_back(plot::read_run(dir));
  plot::label_runs(runs);
  if (a.options.out.empty()) a.options.out = (std::filesystem::path(a.run_dirs.front()) / "curves.svg").string();
  plot::write_plot(runs, a.options);
  std::printf("%s\n", a.options.out.c_str());
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto args = std::make_shared<PlotArgs>();
  CLI::App* cmd = app.add_subcommand("plot", "Draw loss and perplexity curves of one or more runs into an SVG or PNG file.");
  cmd->add_option("RUN_DIR", args->run_dirs, "run folders written by kiln train (metrics.jsonl, optional eval.jsonl); several are overlaid, one colour each")
      ->required();
  cmd->add_option("--out", args->options.out,
                  "FILE.svg or FILE.png: the format follows the extension (default: curves.svg in the first RUN_DIR)")
      ->type_name("FILE");
  cmd->add_option("--smoothing", args->options.smoothing,
                  "weight W of the debiased exponential moving average (TensorBoard's smoothing) drawn over the train "
                  "loss, 0 <= W < 1, 0 = none; it averages logged points, so a run logged rarely wants a smaller W")
      ->type_name("W")
      ->capture_default_str();
  cmd->add_option("--width", args->options.width, "width in px (PNG pixels, SVG user units)")
      ->type_name("PX")
      ->capture_default_str();
  cmd->add_option("--height", args->options.height, "height in px")->type_name("PX")->capture_default_str();
  cmd->footer("Panels: loss vs step and vs tokens (train raw, train smoothed, validation), validation perplexity vs\n"
              "step and vs tokens (log scale). Prints the path written.\n"
              "Exit codes: 0 written, 2 a missing or malformed run folder or a bad flag (the message names it).");
  cmd->callback([args] { run_plot(*args); });
}

}  // namespace tools
