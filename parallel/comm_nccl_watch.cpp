// parallel/comm_nccl_watch.cpp
// The NCCL half of the collective watchdog (parallel/watchdog.h, comm_nccl.h): a watcher thread
// per NcclComm that polls the completion event of each queued collective and NCCL's asynchronous
// error state, and ends the job when a collective outlives the deadline. Compiled only with CUDA.
//
// Threads: the main thread queues collectives and calls track(); the watcher thread only queries
// events and NCCL's error state, then aborts. `mu_` guards the pending queue and the event pool; an
// event is reused only after the watcher saw it complete. NOT RUN YET: no GPU has executed this
// file (compile-checked only).
#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kernels/check.h"
#include "parallel/comm_nccl.h"
#include "parallel/watchdog.h"

namespace parallel {

struct NcclComm::Watcher {
  struct Pending {
    cudaEvent_t done = nullptr;
    double queued_at = 0;  // steady-clock seconds when the host queued it
    const char* op = "";
    int64_t seq = 0, step = 0;
    const char* phase = "";
  };

  Watcher(NcclComm& c, std::shared_ptr<Watchdog> dog, std::string name)
      : comm(c), dog(std::move(dog)), name(std::move(name)), key(reinterpret_cast<uintptr_t>(&c)) {
    thread = std::thread([this] { run(); });
  }

  ~Watcher() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    wake.notify_all();
    thread.join();
    for (const Pending& p : pending) (void)cudaEventDestroy(p.done);
    for (cudaEvent_t e : pool) (void)cudaEventDestroy(e);
  }

  // Main thread, right after a collective was queued on the comm stream.
  void track(const char* op) {
    std::lock_guard<std::mutex> lock(mu);
    cudaEvent_t e = nullptr;
    if (!pool.empty()) {
      e = pool.back();
      pool.pop_back();
    } else if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
      return;  // no event, no deadline for this one; the next collective is watched again
    }
    if (cudaEventRecord(e, static_cast<cudaStream_t>(comm.stream_)) != cudaSuccess) {
      pool.push_back(e);
      return;
    }
    pending.push_back({e, Watchdog::now_s(), op, dog->next_seq(key), dog->step(), dog->phase()});
  }

  void run() {
    (void)cudaSetDevice(comm.device_);  // events and streams belong to the bound device
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      wake.wait_for(lock, std::chrono::milliseconds(100));
      if (stop) break;
      ncclResult_t async = ncclSuccess;
      if (ncclCommGetAsyncError(static_cast<ncclComm_t>(comm.comm_), &async) == ncclSuccess && async != ncclSuccess &&
          async != ncclInProgress)
        fire(pending.empty() ? nullptr : &pending.front(), std::string("ncclCommGetAsyncError: ") + ncclGetErrorString(async));
      while (!pending.empty()) {
        const cudaError_t q = cudaEventQuery(pending.front().done);
        if (q == cudaErrorNotReady) break;
        if (q != cudaSuccess) fire(&pending.front(), std::string("cudaEventQuery: ") + cudaGetErrorString(q));
        pool.push_back(pending.front().done);
        pending.pop_front();
      }
      if (!pending.empty() && Watchdog::now_s() - pending.front().queued_at > dog->timeout_s())
        fire(&pending.front(), "");
    }
  }

  // Report, abort the communicator so its kernels stop spinning, end the job. Never returns.
  [[noreturn]] void fire(const Pending* p, const std::string& error) {
    TimeoutReport r;
    r.group = name;
    r.op = p ? p->op : "(none pending)";
    r.group_key = key;
    r.seq = p ? p->seq : 0;
    r.step = p ? p->step : dog->step();
    r.phase = p ? p->phase : dog->phase();
    r.timeout_s = dog->timeout_s();
    r.waited_s = p ? Watchdog::now_s() - p->queued_at : 0;
    r.self = -1;
    r.peers_known = false;
    r.backend_error = error;
    std::fflush(stdout);
    std::fprintf(stderr, "%skiln: error: %s\n", kernels::rank_prefix().c_str(), format_timeout_report(r).c_str());
    std::fflush(stderr);
    (void)ncclCommAbort(static_cast<ncclComm_t>(comm.comm_));
    comm.comm_ = nullptr;  // aborted: the destructor must not destroy it again
    abort_job(kWatchdogExitCode);
  }

  NcclComm& comm;
  std::shared_ptr<Watchdog> dog;
  std::string name;
  uint64_t key;
  std::mutex mu;
  std::condition_variable wake;
  bool stop = false;
  std::deque<Pending> pending;
  std::vector<cudaEvent_t> pool;
  std::thread thread;
};

void NcclComm::WatcherStop::operator()(Watcher* w) const { delete w; }

void NcclComm::set_watchdog(std::shared_ptr<Watchdog> w, const std::string& name) {
  host_->set_watchdog(w, name + " (host)");
  watcher_.reset();
  if (w && w->armed()) watcher_.reset(new Watcher(*this, std::move(w), name));
}

void NcclComm::watch(const char* op) {
  if (watcher_) watcher_->track(op);
}

}  // namespace parallel
