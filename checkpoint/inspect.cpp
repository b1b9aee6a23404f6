// checkpoint/inspect.cpp
// inspect_json / print_inspect: the checkpoint side of `kiln inspect`.
//
// Called by tools/cmd_inspect.cpp and tests. Reads the manifest (and with verify, every slice);
// never writes, never renames (unlike find_resume, inspecting a corrupt checkpoint leaves it be).
#include "checkpoint/inspect.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "checkpoint/internal.h"
#include "kernels/check.h"

namespace checkpoint {

namespace {

// A checkpoint folder as given, or the one a checkpoints folder's `latest` names.
std::string resolve(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw kernels::InputError(dir + ": no such file or folder");
  if (fs::exists(fs::path(dir) / "manifest.yaml", ec)) return dir;
  const std::string latest = detail::read_latest(dir);
  if (!latest.empty()) {
    int64_t step = 0;
    if (!detail::parse_step_name(latest, &step))
      throw kernels::InputError(dir + "/latest: names '" + latest + "', not a step_NNNNNNNN folder");
    return (fs::path(dir) / latest).string();
  }
  return dir;  // read_manifest will say that there is no manifest
}

uint64_t stored_bytes(const Manifest::Entry& e) {
  uint64_t n = 0;
  for (const auto& s : e.slices) n += uint64_t(s.count) * kernels::dtype_size(e.dtype);
  return n;
}

std::string json_of(const Manifest& m, bool verified) {
  uint64_t bytes = 0;
  for (const auto& e : m.tensors) bytes += stored_bytes(e);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"kind\":\"checkpoint\",\"step\":%" PRId64 ",\"tokens\":%" PRId64
                ",\"layout\":{\"dp\":%d,\"tp\":%d,\"zero\":%d},\"tensors\":%zu,\"bytes\":%" PRIu64 ",\"verified\":%s}",
                m.state.step, m.state.tokens, m.state.dp, m.state.tp, m.state.zero, m.tensors.size(), bytes,
                verified ? "true" : "false");
  return buf;
}

Manifest open_checked(const std::string& dir, bool verify_all) {
  Manifest m = read_manifest(resolve(dir));
  if (verify_all) verify(m);
  return m;
}

}  // namespace

std::string inspect_json(const std::string& dir, bool verify_all) {
  const Manifest m = open_checked(dir, verify_all);
  return json_of(m, verify_all);
}

void print_inspect(const std::string& dir, bool verify_all) {
  const Manifest m = open_checked(dir, verify_all);
  const RunState& st = m.state;
  std::printf("kiln inspect | checkpoint %s | step %" PRId64 " | tokens %" PRId64 " | layout dp=%d tp=%d zero=%d\n",
              m.dir.c_str(), st.step, st.tokens, st.dp, st.tp, st.zero);
  std::printf("loss_scale %g | skipped_steps %" PRId64 " | loader epoch %" PRIu64 " position %" PRIu64 " | seed %" PRId64
              "\n",
              st.loss_scale, st.skipped_steps, st.loader_epoch, st.loader_position, st.seed);
  size_t width = 6;
  for (const auto& e : m.tensors) width = std::max(width, e.name.size());
  std::printf("%-*s  %-5s  %-22s  %-10s  %3s  %6s  %12s\n", int(width), "tensor", "dtype", "global shape", "split", "tp",
              "slices", "bytes");
  for (const auto& e : m.tensors)
    std::printf("%-*s  %-5s  %-22s  %-10s  %3d  %6zu  %12" PRIu64 "\n", int(width), e.name.c_str(),
                kernels::dtype_name(e.dtype), e.global_shape.str().c_str(), parallel::split_name(e.split), e.tp,
                e.slices.size(), stored_bytes(e));
  if (verify_all) std::printf("verified: every slice's CRC32C matches the manifest\n");
  std::printf("%s\n", json_of(m, verify_all).c_str());
  std::fflush(stdout);
}

}  // namespace checkpoint
