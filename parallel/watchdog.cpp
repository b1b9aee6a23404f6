// parallel/watchdog.cpp
// The backend-neutral half of the collective watchdog (declared in watchdog.h): sequence numbers,
// what this process waits in, the report text, and handing the watchdog to the groups. The MPI
// polling loop and the query protocol are in mpi_watch.cpp, the NCCL watcher in
// comm_nccl_watch.cpp.
#include "parallel/watchdog.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "parallel/groups.h"

namespace parallel {

namespace {

std::string rank_list(const std::vector<int>& ranks) {
  std::string s;
  for (size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  return s;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

bool arrived(const TimeoutReport& r, const RankWhere& p) {
  return p.answered && p.waiting && p.group_key == r.group_key && p.seq == r.seq && p.op == r.op;
}

}  // namespace

double Watchdog::now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t Watchdog::next_seq(uint64_t group_key) {
  std::lock_guard<std::mutex> lock(mu_);
  return ++seq_[group_key];
}

int64_t Watchdog::seq_of(uint64_t group_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = seq_.find(group_key);
  return it == seq_.end() ? 0 : it->second;
}

Watchdog::WaitScope::WaitScope(Watchdog& w, uint64_t key, const std::string& group, const char* op, int64_t seq)
    : w_(w) {
  std::lock_guard<std::mutex> lock(w_.mu_);
  w_.current_ = {true, key, group, op, seq, now_s()};
}

Watchdog::WaitScope::~WaitScope() {
  std::lock_guard<std::mutex> lock(w_.mu_);
  w_.current_.waiting = false;
}

RankWhere Watchdog::where(int world_rank, uint64_t asked_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  RankWhere w;
  w.world_rank = world_rank;
  w.answered = true;
  w.waiting = current_.waiting;
  w.group_key = current_.group_key;
  w.group = current_.group;
  w.op = current_.op;
  w.seq = current_.seq;
  const auto it = seq_.find(asked_key);
  w.seq_on_asked = it == seq_.end() ? 0 : it->second;
  w.step = step();
  w.phase = phase();
  w.waited_s = current_.waiting ? now_s() - current_.since : 0;
  return w;
}

std::string format_timeout_report(const TimeoutReport& r) {
  std::vector<int> missing, present{r.self};
  for (const RankWhere& p : r.peers) (arrived(r, p) ? present : missing).push_back(p.world_rank);
  std::sort(missing.begin(), missing.end());
  std::sort(present.begin(), present.end());
  std::ostringstream s;
  s << "collective watchdog: " << r.op << " #" << r.seq << " on the " << r.group << " group did not complete within "
    << seconds(r.timeout_s) << " (step " << r.step << ", " << r.phase << ")";
  if (!r.peers_known)
    s << "; which ranks did not arrive is not known to this backend (every rank's watchdog reports its own view)";
  else if (missing.empty())
    s << "; every rank of the group arrived, yet it did not complete";
  else
    s << "; did not arrive: rank" << (missing.size() > 1 ? "s " : " ") << rank_list(missing);
  if (!r.backend_error.empty()) s << "\n  backend error: " << r.backend_error;
  for (const RankWhere& p : r.peers) {
    if (arrived(r, p)) continue;
    s << "\n  rank " << p.world_rank << ": ";
    if (!p.answered) {
      s << "no answer: busy outside any collective (stalled, still computing) or dead";
    } else if (!p.waiting) {
      s << "answered, but waits in no collective";
    } else {
      s << "waits in " << p.op << " #" << p.seq << " on the " << p.group << " group (step " << p.step << ", "
        << p.phase << ") for " << seconds(p.waited_s) << "; it has issued " << p.seq_on_asked << " collective"
        << (p.seq_on_asked == 1 ? "" : "s") << " on the " << r.group << " group";
      s << " (the ranks took different branches)";
    }
  }
  if (r.peers_known) s << "\n  arrived: rank" << (present.size() > 1 ? "s " : " ") << rank_list(present) << " (this rank: " << r.self << ")";
  s << "\n  ending every rank of the job (exit " << kWatchdogExitCode << "); raise parallel.timeout_s if a rank "
       "legitimately needs longer (checkpoint writes, evaluation)";
  return s.str();
}

void arm_watchdog(ProcessGroups& groups, double timeout_s) {
  if (timeout_s <= 0 || groups.layout.world <= 1) return;
  groups.watchdog = std::make_shared<Watchdog>(timeout_s);
  groups.world->set_watchdog(groups.watchdog, "world");
  groups.dp->set_watchdog(groups.watchdog, "dp");
  groups.tp->set_watchdog(groups.watchdog, "tp");
}

}  // namespace parallel
