// parallel/mpi_watch.cpp
// Waiting for an MPI collective under a deadline, and asking the other ranks where they are
// (declared in mpi_watch.h; the design is in watchdog.h).
//
// The query protocol runs point to point on MPI_COMM_WORLD with two reserved tags (kiln sends no
// other point-to-point messages, and collectives never match point-to-point traffic):
//   query   (timed-out rank -> every other rank of its group): its group key, collective number,
//           and what it waits in, so the receiver can say so in its own note
//   answer  (any rank polling in a watched collective -> the asker): Watchdog::where()
// A rank answers only while it polls inside a watched collective, so silence means "not in any
// collective": stalled, computing, or dead. Sends are fire-and-forget (MPI_Isend +
// MPI_Request_free) with buffers kept until exit: the asker may be gone, and nothing may block
// on this path.
#include "parallel/mpi_watch.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>

#include "kernels/check.h"

namespace parallel {

namespace detail {

namespace {

constexpr int kTagQuery = 32001, kTagAnswer = 32002;  // MPI guarantees tags up to 32767
constexpr double kSpinSeconds = 1e-3;                 // MPI_Test only, no sleeping, this long
constexpr auto kPollSleep = std::chrono::microseconds(50);
constexpr double kAnswerGraceSeconds = 2.0;           // how long a timed-out rank waits for answers

// Fixed-size wire records (MPI_BYTE; every rank runs the same binary).
struct QueryMsg {
  uint64_t key = 0;
  int64_t seq = 0;
  int32_t from = 0, pad = 0;
  char group[16] = {}, op[24] = {};
};
struct AnswerMsg {
  int32_t rank = 0, waiting = 0;
  uint64_t key = 0;
  int64_t seq = 0, seq_on_asked = 0, step = 0;
  double waited_s = 0;
  char group[16] = {}, op[24] = {}, phase[24] = {};
};

template <size_t N>
void put(char (&dst)[N], const std::string& s) {
  std::strncpy(dst, s.c_str(), N - 1);
  dst[N - 1] = '\0';
}

int my_world_rank() {
  static const int rank = [] {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }();
  return rank;
}

// Buffers of sends nobody waits for: a handful per job, kept until the process ends.
template <class T>
T& park(const T& msg) {
  static std::deque<T> parked;
  parked.push_back(msg);
  return parked.back();
}

template <class T>
void send_and_forget(const T& msg, int dest, int tag) {
  T& buf = park(msg);
  MPI_Request r = MPI_REQUEST_NULL;
  if (MPI_Isend(&buf, int(sizeof buf), MPI_BYTE, dest, tag, MPI_COMM_WORLD, &r) == MPI_SUCCESS) MPI_Request_free(&r);
}

void say(const std::string& text) {
  std::fflush(stdout);
  std::fprintf(stderr, "%skiln: %s\n", kernels::rank_prefix().c_str(), text.c_str());
  std::fflush(stderr);
}

// Answers every query waiting for this rank. The first one also makes this rank say where it is:
// the job is about to end, and this line is its only chance to speak.
void answer_queries(const Watchdog& dog) {
  static bool spoke = false;
  for (;;) {
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kTagQuery, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS || !flag) return;
    QueryMsg q;
    if (MPI_Recv(&q, int(sizeof q), MPI_BYTE, st.MPI_SOURCE, kTagQuery, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      return;
    const RankWhere w = dog.where(my_world_rank(), q.key);
    AnswerMsg a;
    a.rank = w.world_rank;
    a.waiting = w.waiting ? 1 : 0;
    a.key = w.group_key;
    a.seq = w.seq;
    a.seq_on_asked = w.seq_on_asked;
    a.step = w.step;
    a.waited_s = w.waited_s;
    put(a.group, w.group);
    put(a.op, w.op);
    put(a.phase, w.phase);
    send_and_forget(a, st.MPI_SOURCE, kTagAnswer);
    if (!spoke) {
      spoke = true;
      char line[320];
      std::snprintf(line, sizeof line,
                    "collective watchdog: rank %d timed out in %s #%lld on the %s group; this rank waits in %s #%lld "
                    "on the %s group (step %lld, %s) for %.3g s",
                    q.from, q.op, (long long)q.seq, q.group, w.op.c_str(), (long long)w.seq, w.group.c_str(),
                    (long long)w.step, w.phase.c_str(), w.waited_s);
      say(line);
    }
  }
}

// The deadline passed: ask, report, end the job.
[[noreturn]] void timed_out(const MpiWatch& g, const char* op, int64_t seq, double waited) {
  Watchdog& dog = *g.dog;
  const int me = my_world_rank();
  QueryMsg q;
  q.key = g.key;
  q.seq = seq;
  q.from = me;
  put(q.group, g.name);
  put(q.op, op);
  TimeoutReport r;
  r.group = g.name;
  r.op = op;
  r.group_key = g.key;
  r.seq = seq;
  r.step = dog.step();
  r.phase = dog.phase();
  r.timeout_s = dog.timeout_s();
  r.waited_s = waited;
  r.self = me;
  for (int w : g.world_ranks) {
    if (w == me) continue;
    send_and_forget(q, w, kTagQuery);
    RankWhere p;
    p.world_rank = w;
    r.peers.push_back(p);
  }

  const double until = Watchdog::now_s() + std::min(kAnswerGraceSeconds, std::max(0.5, dog.timeout_s()));
  size_t answered = 0;
  while (answered < r.peers.size() && Watchdog::now_s() < until) {
    answer_queries(dog);  // the others may be timing out too, and asking us
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kTagAnswer, MPI_COMM_WORLD, &flag, &st) == MPI_SUCCESS && flag) {
      AnswerMsg a;
      if (MPI_Recv(&a, int(sizeof a), MPI_BYTE, st.MPI_SOURCE, kTagAnswer, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
          MPI_SUCCESS)
        continue;
      for (RankWhere& p : r.peers) {
        if (p.world_rank != a.rank || p.answered) continue;
        p.answered = true;
        p.waiting = a.waiting != 0;
        p.group_key = a.key;
        p.group = a.group;
        p.op = a.op;
        p.seq = a.seq;
        p.seq_on_asked = a.seq_on_asked;
        p.step = a.step;
        p.phase = a.phase;
        p.waited_s = a.waited_s;
        ++answered;
      }
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::fflush(stdout);
  std::fprintf(stderr, "%skiln: error: %s\n", kernels::rank_prefix().c_str(), format_timeout_report(r).c_str());
  std::fflush(stderr);
  abort_job(kWatchdogExitCode);
}

}  // namespace

void mpi_wait(MPI_Request& req, const MpiWatch& g, const char* op, int64_t seq) {
  Watchdog& dog = *g.dog;
  Watchdog::WaitScope scope(dog, g.key, g.name, op, seq);
  const double start = Watchdog::now_s();
  for (;;) {
    int done = 0;
    const int err = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (err != MPI_SUCCESS) {
      char msg[MPI_MAX_ERROR_STRING] = {};
      int len = 0;
      MPI_Error_string(err, msg, &len);
      kernels::fail("MPI_Test", std::string(op) + " on the " + g.name + " group: " + std::string(msg, size_t(len)),
                    __FILE__, __LINE__);
    }
    if (done) return;
    const double waited = Watchdog::now_s() - start;
    if (waited < kSpinSeconds) continue;
    answer_queries(dog);
    if (waited > dog.timeout_s()) timed_out(g, op, seq, waited);
    std::this_thread::sleep_for(kPollSleep);
  }
}

}  // namespace detail

void abort_job(int exit_code) {
  std::fflush(nullptr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, exit_code);
  _exit(exit_code);
}

}  // namespace parallel
