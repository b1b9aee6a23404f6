// formats/metrics.cpp
#include "formats/metrics.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "kernels/json_untrusted.h"
#include "kernels/check.h"

namespace formats {

std::string format_duration(double seconds) {
  const long s = long(std::max(0.0, seconds) + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

namespace {
// Rewrites a .jsonl file keeping only the lines whose "step" is <= last_step (atomic: tmp + rename).
void keep_steps_through(const std::string& path, int last_step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    // Lines kiln did not write (too deep, not an object, a step that is not an integer) are dropped.
    const nlohmann::json j = kernels::parse_untrusted_json(line, nullptr);
    if (j.is_object() && j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() <= last_step)
      kept += line + "\n";
  }
  in.close();
  { std::ofstream(path + ".tmp", std::ios::trunc) << kept; }
  std::rename((path + ".tmp").c_str(), path.c_str());
}

// The TensorBoard scalars of one .jsonl object: every numeric field but "step" (the Event's step)
// becomes <prefix><field>, minus `strip` at the front of the field name. Taking the fields from
// the JSON object keeps the two outputs equal by construction; nulls (mfu on the CPU) are skipped.
std::vector<ScalarValue> scalars_of(const nlohmann::json& j, const std::string& prefix, const std::string& strip) {
  std::vector<ScalarValue> out;
  for (const auto& [key, value] : j.items()) {
    if (key == "step" || !value.is_number()) continue;
    const std::string field = key.rfind(strip, 0) == 0 ? key.substr(strip.size()) : key;
    out.push_back({prefix + field, value.get<float>()});
  }
  return out;
}
}  // namespace

Metrics::Metrics(const std::string& run_dir, int max_steps, int resumed_step) : max_steps_(max_steps) {
  const auto mode = resumed_step < 0 ? std::ios::trunc : std::ios::app;
  if (resumed_step >= 0) {
    keep_steps_through(run_dir + "/metrics.jsonl", resumed_step);
    keep_steps_through(run_dir + "/eval.jsonl", resumed_step);
  }
  train_.open(run_dir + "/metrics.jsonl", mode);
  eval_.open(run_dir + "/eval.jsonl", mode);
  KILN_REQUIRE_INPUT(train_ && eval_, "run folder '" + run_dir + "': cannot write metrics.jsonl / eval.jsonl");

  // TensorBoard. A fresh run starts the folder's history over, as the truncated .jsonl files do.
  if (resumed_step < 0)
    for (const std::string& f : list_event_files(run_dir)) std::filesystem::remove(f);
  // Event files are append-only, so a resumed run cannot drop the points that the interrupted run
  // wrote past its checkpoint; it writes a new file (sorting after the old ones) that opens with
  // SessionLog START at the first step this session will log, resumed_step + 1 (0 when fresh).
  // TensorBoard's Python loader ignores the first START of a run (the fresh run's) and at each
  // later one drops every point at a step >= its step read from earlier files: exactly the lines
  // that metrics.jsonl / eval.jsonl dropped above. (START at resumed_step itself would also drop
  // the point at resumed_step, which the .jsonl files keep.) The Rust loader (`--load_fast`)
  // ignores SessionLog but drops a tag's points at and after any step that goes back, which gives
  // the same plot once the resumed run has logged.
  events_ = std::make_unique<EventFileWriter>(run_dir);
  events_->write_session_start(resumed_step + 1, unix_time_now());
}

void Metrics::log_train(const TrainRecord& r, double elapsed_s) {
  nlohmann::json j = {{"step", r.step},           {"tokens", r.tokens},
                      {"loss", r.loss},           {"lr", r.lr},
                      {"grad_norm", r.grad_norm}, {"step_time_s", r.step_time_s},
                      {"tokens_per_s", r.tokens_per_s}};
  j["mfu"] = r.mfu ? nlohmann::json(*r.mfu) : nlohmann::json(nullptr);
  if (r.loss_scale) j["loss_scale"] = *r.loss_scale;
  j["skipped_steps"] = r.skipped_steps;
  if (r.peak_mem_gib) j["peak_mem_gib"] = *r.peak_mem_gib;
  train_ << j.dump() << '\n' << std::flush;
  events_->write_scalars(r.step, scalars_of(j, "train/", ""), unix_time_now());

  const double eta = r.step > 0 ? elapsed_s / r.step * (max_steps_ - r.step) : 0.0;
  std::printf("step %6d/%d | loss %.4f | lr %.2e | grad norm %.3f | %.0f tok/s", r.step, max_steps_, r.loss,
              r.lr, r.grad_norm, r.tokens_per_s);
  if (r.mfu) std::printf(" | mfu %.1f%%", *r.mfu * 100);
  if (r.loss_scale) std::printf(" | loss scale %.0f", *r.loss_scale);
  if (r.peak_mem_gib) std::printf(" | mem %.1f GiB", *r.peak_mem_gib);
  std::printf(" | %s elapsed | ETA %s\n", format_duration(elapsed_s).c_str(), format_duration(eta).c_str());
  std::fflush(stdout);
}

void Metrics::log_eval(int step, int64_t tokens, const EvalResult& e) {
  const nlohmann::json j = {{"step", step},
                            {"tokens", tokens},
                            {"val_loss", e.loss},
                            {"val_perplexity", e.perplexity},
                            {"val_bits_per_byte", e.bits_per_byte}};
  eval_ << j.dump() << '\n' << std::flush;
  events_->write_scalars(step, scalars_of(j, "val/", "val_"), unix_time_now());
  std::printf("eval  %6d | val loss %.4f | val perplexity %.3f | val bits/byte %.4f (%lld tokens)\n", step, e.loss,
              e.perplexity, e.bits_per_byte, (long long)e.tokens);
  std::fflush(stdout);
}

}  // namespace formats
