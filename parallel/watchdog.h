// parallel/watchdog.h
// The collective watchdog: a deadline on every collective of a multi-rank run, so that a rank that
// died, stalled or took another branch ends the job with a report instead of a hang.
//
// One Watchdog per process, made by arm_watchdog() with parallel.timeout_s and handed to every
// communicator of the ProcessGroups (Comm::set_watchdog). The run loop tells it which step and phase
// it is in (set_step), so the report can name them. What a backend does with it:
//   MPI   collectives become their non-blocking forms (MPI_Iallreduce, ...) completed by a polling
//         loop on the calling thread (parallel/mpi_watch.cpp). Past the deadline the rank asks the
//         group's other ranks, point to point on MPI_COMM_WORLD, where they are: a rank polling in
//         a collective answers at once with the collective it waits in; a rank that does not
//         answer within a short grace period is busy outside any collective (stalled, or in a
//         long computation), or dead. The rank then prints the report and calls MPI_Abort, which
//         ends every rank of the job, and mpirun exits with kWatchdogExitCode.
//   NCCL  collectives are queued on the GPU and never block the host, so a watcher thread polls an
//         event recorded after each one; past the deadline (or when ncclCommGetAsyncError reports
//         an error) it prints the report, calls ncclCommAbort and ends the job the same way. NCCL
//         cannot say which ranks did not arrive: each rank's report names its own last collective.
//   self  groups of one have nothing to wait for.
// A rank that is killed outright is usually seen first by the launcher (mpirun and srun end the
// job when a rank dies); the watchdog covers the cases the launcher cannot see.
//
// The timeout must exceed the longest legitimate wait of one rank for another: a checkpoint
// written by one rank while the others wait at its barrier, an evaluation, a slow first step.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace parallel {

struct ProcessGroups;

// The exit status of a job the watchdog ended (CONTRACTS §1 as kiln documents it in README).
constexpr int kWatchdogExitCode = 5;

// Where one rank is, as it answers a query (or as it reports itself).
struct RankWhere {
  int world_rank = -1;
  bool answered = false;    // false: no answer within the grace period
  bool waiting = false;     // inside a watched collective
  uint64_t group_key = 0;   // the group it waits in
  std::string group, op;    // "dp", "all_reduce"
  int64_t seq = 0;          // collective number within that group (1 = the group's first)
  int64_t seq_on_asked = 0; // how many collectives it has issued on the group that asked
  int64_t step = 0;
  std::string phase;
  double waited_s = 0;      // how long it has waited in that collective
};

// What the rank that timed out knows: its own collective and the answers of its group's ranks.
struct TimeoutReport {
  std::string group, op;
  uint64_t group_key = 0;
  int64_t seq = 0, step = 0;
  std::string phase;
  double timeout_s = 0, waited_s = 0;
  int self = -1;                // this rank (world numbering)
  std::vector<RankWhere> peers; // the group's other ranks
  std::string backend_error;    // e.g. NCCL's async error, when there is one
  bool peers_known = true;      // false: the backend cannot ask (NCCL)
};

// The report as printed: the first line names the collective, the step and the ranks that did
// not arrive; the following lines say what each other rank answered.
std::string format_timeout_report(const TimeoutReport& r);

class Watchdog {
 public:
  explicit Watchdog(double timeout_s) : timeout_s_(timeout_s) {}
  double timeout_s() const { return timeout_s_; }
  bool armed() const { return timeout_s_ > 0; }

  // Set by the run loop: the optimizer step being computed (or just completed, for "eval" and
  // "checkpoint") and a phase name with static storage ("start-up", "train", "eval", ...).
  void set_step(int64_t step, const char* phase) {
    step_.store(step, std::memory_order_relaxed);
    phase_.store(phase, std::memory_order_relaxed);
  }
  int64_t step() const { return step_.load(std::memory_order_relaxed); }
  const char* phase() const { return phase_.load(std::memory_order_relaxed); }

  // The next collective number of a group (keys: Comm-specific, equal on all members).
  int64_t next_seq(uint64_t group_key);
  int64_t seq_of(uint64_t group_key) const;

  // The collective this process waits in now (collectives are issued by one thread at a time);
  // what a query is answered with. WaitScope sets it for the duration of a wait.
  struct Current {
    bool waiting = false;
    uint64_t group_key = 0;
    std::string group;
    const char* op = "";
    int64_t seq = 0;
    double since = 0;  // steady-clock seconds
  };
  class WaitScope {
   public:
    WaitScope(Watchdog& w, uint64_t key, const std::string& group, const char* op, int64_t seq);
    ~WaitScope();
    WaitScope(const WaitScope&) = delete;
    WaitScope& operator=(const WaitScope&) = delete;

   private:
    Watchdog& w_;
  };
  // This process's answer to a query from the group `asked_key`.
  RankWhere where(int world_rank, uint64_t asked_key) const;

  static double now_s();  // steady clock, seconds

 private:
  double timeout_s_;
  std::atomic<int64_t> step_{0};
  std::atomic<const char*> phase_{"start-up"};
  mutable std::mutex mu_;  // the NCCL watcher thread reads what the main thread writes
  std::map<uint64_t, int64_t> seq_;
  Current current_;
};

// Makes the process's watchdog (timeout_s <= 0: none, collectives block as before) and gives it to
// every communicator of `groups` (world, dp, tp); keeps it in groups.watchdog. Every rank calls it
// at the same point (the NCCL watcher starts here).
void arm_watchdog(ProcessGroups& groups, double timeout_s);

// Prints nothing; ends this process and, under MPI, every rank of the job (MPI_Abort) with
// `exit_code`. Without MPI, _exit(exit_code). Safe to call from a watcher thread.
[[noreturn]] void abort_job(int exit_code);

}  // namespace parallel
