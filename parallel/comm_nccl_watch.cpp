// parallel/comm_nccl_watch.cpp
// The NCCL half of the collective watchdog (parallel/watchdog.h, comm_nccl.h): a watcher thread
// per NcclComm that polls the completion event of each queued collective and NCCL's asynchronous
// error state, and ends the job when a collective outlives the deadline. Compiled only with CUDA.
//
// Threads: the main thread queues collectives and calls track(); the watcher thread only queries
// events and NCCL's error state, then aborts. `mu_` guards the pending queue and the event pool; an
// event is reused only after the watcher saw it complete. CUDA and NCCL are reached through the
// CUDA plugin's table (kernels/cuda_plugin.h), like the rest of comm_nccl.cpp. NOT RUN YET: no GPU
// has executed this file (compile-checked only).
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
#include "kernels/cuda_plugin.h"
#include "parallel/comm_nccl.h"
#include "parallel/watchdog.h"

namespace parallel {

struct NcclComm::Watcher {
  struct Pending {
    void* done = nullptr;  // a cudaEvent_t, through the plugin
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
    for (const Pending& p : pending) cu.event_destroy(p.done);
    for (void* e : pool) cu.event_destroy(e);
  }

  // Main thread, right after a collective was queued on the comm stream.
  void track(const char* op) {
    std::lock_guard<std::mutex> lock(mu);
    void* e = nullptr;
    if (!pool.empty()) {
      e = pool.back();
      pool.pop_back();
    } else {
      e = cu.event_create();  // a failure here ends the job through kernels::fail, named
    }
    cu.event_record(e, kernels::Stream{comm.stream_});
    pending.push_back({e, Watchdog::now_s(), op, dog->next_seq(key), dog->step(), dog->phase()});
  }

  void run() {
    cu.set_device(comm.device_);  // events and streams belong to the bound device
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      wake.wait_for(lock, std::chrono::milliseconds(100));
      if (stop) break;
      if (const std::string async = cu.nccl_async_error(comm.comm_); !async.empty())
        fire(pending.empty() ? nullptr : &pending.front(), async);
      while (!pending.empty()) {
        std::string error;
        const int q = cu.event_query(pending.front().done, &error);
        if (q == 0) break;
        if (q < 0) fire(&pending.front(), error);
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
    cu.nccl_comm_abort(comm.comm_);
    comm.comm_ = nullptr;  // aborted: the destructor must not destroy it again
    abort_job(kWatchdogExitCode);
  }

  const kernels::CudaPlugin& cu = kernels::cuda_plugin();  // loaded: a NcclComm exists
  NcclComm& comm;
  std::shared_ptr<Watchdog> dog;
  std::string name;
  uint64_t key;
  std::mutex mu;
  std::condition_variable wake;
  bool stop = false;
  std::deque<Pending> pending;
  std::vector<void*> pool;
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
