// checkpoint/commit.cpp
// Rank 0's half of a commit, the `latest` pointer, retention (keep_last) and clean_stale.
//
// Called by Saver::commit (publish) and by the trainer at start-up (clean_stale). Runs on rank 0
// only; the other ranks wait in Saver::commit's closing broadcast.
//
// Why each step is where it is (CONTRACTS §5: a checkpoint is complete or absent):
//  1. Every rank's rank_R.h5 and rank_R.yaml were fsynced by its writer before the commit's
//     all-reduce, so their bytes are durable before anything points at them.
//  2. manifest.yaml is emitted, parsed back through the same validation read_manifest uses
//     (a save that would not load is refused here, not discovered at resume), written, fsynced.
//     The tokenizer folder (RunState::tokenizer_dir) is copied and fsynced just before it.
//  3. fsync(step_X.tmp/) makes the folder's entries (rank files + manifest) durable: without it
//     a crash after the rename could leave step_X/ with names that point nowhere.
//  4. rename(step_X.tmp, step_X) is the commit point (atomic on POSIX). fsync(checkpoints/) makes
//     the rename itself survive a crash.
//  5. `latest` is replaced by write-temp + fsync + rename + fsync(checkpoints/), so it is always
//     either the old name or the new one, and always names a complete folder: nothing it can
//     name is deleted before it moves on (retention runs after it).
//  6. Retention last, so keep_last only ever deletes after a newer checkpoint is complete. A
//     folder being deleted is first renamed to step_X.deleting.tmp: a crash mid-delete leaves a
//     *.tmp folder that clean_stale removes, never a step_X/ with half its files.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "checkpoint/internal.h"
#include "data/io.h"
#include "kernels/check.h"

namespace checkpoint {

namespace fs = std::filesystem;

namespace detail {

namespace {

void must_fsync(const std::string& path, bool is_dir) {
  if (!data::io::fsync_path(path, is_dir)) throw std::runtime_error(path + ": fsync failed");
}

// Deletes complete checkpoints older than the keep_last newest ones up to `committed`. Folders of
// later steps (an abandoned future after a resume from an older checkpoint) are not touched.
void apply_retention(const std::string& dir, int64_t committed, int keep_last) {
  if (keep_last <= 0) return;  // 0 (or less): keep everything
  std::vector<std::pair<int64_t, fs::path>> complete;
  std::error_code ec;
  for (const auto& ent : fs::directory_iterator(dir, ec)) {
    int64_t step = 0;
    if (ent.is_directory(ec) && parse_step_name(ent.path().filename().string(), &step) && step <= committed &&
        fs::exists(ent.path() / "manifest.yaml", ec))
      complete.push_back({step, ent.path()});
  }
  std::sort(complete.begin(), complete.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = size_t(keep_last); i < complete.size(); ++i) {
    const fs::path doomed = complete[i].second.string() + ".deleting.tmp";
    fs::rename(complete[i].second, doomed, ec);
    if (!ec) fs::remove_all(doomed, ec);
    if (ec)
      std::fprintf(stderr, "%scheckpoint: keep_last: could not delete %s: %s\n", kernels::rank_prefix().c_str(),
                   complete[i].second.c_str(), ec.message().c_str());
  }
}

}  // namespace

void write_latest(const std::string& dir, const std::string& name) {
  const std::string tmp = dir + "/latest.tmp", latest = dir + "/latest";
  if (!data::io::write_file_synced(tmp, name + "\n")) throw std::runtime_error(tmp + ": cannot write");
  fs::rename(tmp, latest);
  must_fsync(dir, true);
}

std::string read_latest(const std::string& dir) {
  std::string text;
  if (!read_text_file(dir + "/latest", &text)) return "";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

void publish(const std::string& dir, const std::string& tmp, const RunState& state, int world_size, int keep_last) {
  std::vector<SliceRecord> all;
  for (int r = 0; r < world_size; ++r) {
    std::vector<SliceRecord> mine = parse_rank_list(tmp + "/" + rank_list_file(r));
    all.insert(all.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
  }
  if (!state.tokenizer_dir.empty()) {  // durable before the manifest, like the rank files
    const fs::path to = fs::path(tmp) / "tokenizer";
    fs::create_directories(to);
    for (const auto& f : fs::directory_iterator(state.tokenizer_dir)) {
      if (!f.is_regular_file()) continue;
      fs::copy_file(f.path(), to / f.path().filename(), fs::copy_options::overwrite_existing);
      must_fsync((to / f.path().filename()).string(), false);
    }
    must_fsync(to.string(), true);
  }
  const std::string text = emit_manifest(state, merge_slices(all));
  const std::string manifest = tmp + "/manifest.yaml";
  try {
    parse_manifest(text, manifest);
  } catch (const kernels::InputError& e) {
    throw std::runtime_error(std::string("refusing to commit a checkpoint that would not load: ") + e.what());
  }
  if (!data::io::write_file_synced(manifest, text)) throw std::runtime_error(manifest + ": cannot write");
  must_fsync(tmp, true);

  const std::string name = step_name(state.step);
  const fs::path final_dir = fs::path(dir) / name;
  // The same step saved again (a resume from an older checkpoint reached it once more): move the
  // old folder aside first, as rename cannot replace a non-empty folder. Older steps stay intact
  // throughout, and the aside copy is a *.tmp that clean_stale removes if we die right here.
  const fs::path aside = final_dir.string() + ".replaced.tmp";
  const bool replacing = fs::exists(final_dir);
  if (replacing) {
    fs::remove_all(aside);
    fs::rename(final_dir, aside);
  }
  fs::rename(tmp, final_dir);  // the commit point
  must_fsync(dir, true);
  if (replacing) fs::remove_all(aside);

  write_latest(dir, name);
  apply_retention(dir, state.step, keep_last);
}

}  // namespace detail

void clean_stale(const std::string& checkpoints_dir) {
  std::error_code ec;
  if (!fs::is_directory(checkpoints_dir, ec)) return;
  std::vector<fs::path> stale;
  for (const auto& ent : fs::directory_iterator(checkpoints_dir)) {
    const std::string name = ent.path().filename().string();
    const bool tmp = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
    if (tmp && (name.rfind("step_", 0) == 0 || name == "latest.tmp")) stale.push_back(ent.path());
  }
  for (const fs::path& p : stale) {
    std::fprintf(stderr, "checkpoint: removing %s (a save or delete that never finished)\n", p.c_str());
    fs::remove_all(p);
  }
}

}  // namespace checkpoint
