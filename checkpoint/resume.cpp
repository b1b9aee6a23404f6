// checkpoint/resume.cpp
// find_resume: which checkpoint a `resume: auto` run starts from.
//
// Called by the trainer at start-up on every rank (collective over `world`), after clean_stale.
// Does not load anything: it returns the folder, and the trainer calls read_manifest + load.
//
// Rules (CONTRACTS §5, §6):
//  - Candidates are folders named exactly step_<digits>: never *.tmp (unfinished saves or
//    deletes) nor *.corrupt. Newest step first. `latest` is only a hint: it can lag the newest
//    folder (a crash between the folder rename and the pointer rename) and it could name anything
//    after a hand edit, so the scan decides and `latest` is corrected to name the choice.
//  - A candidate wins when its manifest reads, says the step its folder name says, and every
//    slice verifies (CRC32C). Anything else makes it corrupt: it is renamed step_X.corrupt
//    (step_X.corrupt.2, ... if taken) so it is never retried, and its step can be saved again.
//  - Rank 0 decides alone and broadcasts the step (-1: none): one reader of the whole checkpoint,
//    one set of renames, one message, and every rank gets the same answer even if a file system
//    shows ranks different things. The cost is one full read on rank 0 before the (parallel)
//    load; load() checks CRCs again on every rank as it reads.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "checkpoint/internal.h"
#include "kernels/check.h"

namespace checkpoint {

namespace fs = std::filesystem;

namespace {

// Renames a corrupt checkpoint aside; returns the new name, or "" when that failed too.
std::string quarantine(const fs::path& dir) {
  std::error_code ec;
  for (int i = 1; i < 1000; ++i) {
    std::string name = dir.string() + ".corrupt";
    if (i > 1) name.append(".").append(std::to_string(i));
    const fs::path to = name;
    if (fs::exists(to, ec)) continue;
    fs::rename(dir, to, ec);
    return ec ? "" : to.filename().string();
  }
  return "";
}

// Rank 0's scan. Returns the chosen step or -1.
int64_t choose(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    std::fprintf(stderr, "checkpoint: no checkpoints in %s (folder missing): starting fresh\n", root.c_str());
    return -1;
  }
  std::vector<int64_t> steps;
  for (const auto& ent : fs::directory_iterator(root)) {
    int64_t step = 0;
    if (ent.is_directory(ec) && detail::parse_step_name(ent.path().filename().string(), &step)) steps.push_back(step);
  }
  std::sort(steps.rbegin(), steps.rend());
  const std::string hint = detail::read_latest(root);

  int64_t chosen = -1;
  for (int64_t step : steps) {
    const std::string name = detail::step_name(step);
    const fs::path path = fs::path(root) / name;
    try {
      const Manifest m = read_manifest(path.string());
      if (m.state.step != step)
        throw kernels::InputError(path.string() + "/manifest.yaml: says step " + std::to_string(m.state.step) +
                                  ", the folder name says " + std::to_string(step));
      verify(m);
      chosen = step;
      std::fprintf(stderr, "checkpoint: resuming from %s (step %" PRId64 ", %" PRId64 " tokens; every CRC verified)\n",
                   path.c_str(), m.state.step, m.state.tokens);
      break;
    } catch (const kernels::InputError& e) {
      const std::string moved = quarantine(path);
      std::fprintf(stderr, "checkpoint: skipping %s: %s; %s\n", name.c_str(), e.what(),
                   moved.empty() ? "could not rename it aside (it will be checked again next time)"
                                 : ("renamed to " + moved + ", falling back to an older checkpoint").c_str());
    }
  }
  const std::string chosen_name = chosen >= 0 ? detail::step_name(chosen) : "";
  if (chosen < 0)
    std::fprintf(stderr, "checkpoint: no complete, verified checkpoint in %s: starting fresh\n", root.c_str());
  if (hint != chosen_name) {
    if (!hint.empty())
      std::fprintf(stderr, "checkpoint: `latest` named %s; %s\n", hint.c_str(),
                   chosen < 0 ? "removing it" : ("now names " + chosen_name).c_str());
    if (chosen >= 0) detail::write_latest(root, chosen_name);
    else fs::remove(fs::path(root) / "latest", ec);
  }
  return chosen;
}

}  // namespace

std::optional<std::string> find_resume(const std::string& checkpoints_dir, parallel::Comm& world) {
  // int64 step as two int32 halves (comm.h has no 64-bit integer dtype); -2 = rank 0 failed.
  int64_t step = -1;
  std::string err;
  if (world.rank() == 0) {
    try {
      step = choose(checkpoints_dir);
    } catch (const std::exception& e) {
      step = -2;
      err = e.what();
    }
  }
  int32_t halves[2] = {int32_t(uint64_t(step) & 0xffffffffu), int32_t(uint64_t(step) >> 32)};
  kernels::Tensor t{halves, kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{2}};
  world.broadcast(t, 0, kernels::Stream::host());
  step = int64_t((uint64_t(uint32_t(halves[1])) << 32) | uint64_t(uint32_t(halves[0])));
  if (step == -2)
    throw std::runtime_error("checkpoint: cannot scan " + checkpoints_dir + ": " +
                             (world.rank() == 0 ? err : std::string("see rank 0's message")));
  if (step < 0) return std::nullopt;
  return (fs::path(checkpoints_dir) / detail::step_name(step)).string();
}

}  // namespace checkpoint
