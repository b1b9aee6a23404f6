// parallel/comm_nccl.h
// NcclComm: comm.h over NCCL, for tensors in GPU memory. The dp and tp groups of a GPU run get
// one each from make_groups (groups.cpp); nothing else constructs them in normal use.
//
// Bootstrap: NCCL needs a unique id shared by the ranks of the group. The group's host
// communicator (an MpiComm over exactly these ranks, or SelfComm for one) carries it: its rank 0
// calls ncclGetUniqueId, broadcasts the 128 bytes, and every rank calls ncclCommInitRank on the
// GPU that is current (launch::discover bound it). The host communicator is kept: barrier() and
// split() run over it.
//
// Ordering (STYLE E13): NcclComm owns a non-blocking CUDA stream. Each collective
//   1. records an event on the caller's stream s and makes the comm stream wait for it
//      (NCCL must not read a tensor before the kernels writing it have run),
//   2. enqueues the NCCL call on the comm stream,
//   3. records an event on the comm stream and makes s wait for it
//      (later work on s must not read the result early).
// All three are enqueued: the host never blocks, so it keeps launching work while NCCL runs.
//
// Watchdog (parallel/watchdog.h): NCCL calls return as soon as they are queued, so a hang shows
// only at the host's next synchronization. set_watchdog starts a watcher thread
// (comm_nccl_watch.cpp) that polls an event recorded after each collective and
// ncclCommGetAsyncError; a collective still pending past the deadline (counted from when it was
// queued), or an asynchronous NCCL error, makes it print the report, ncclCommAbort the
// communicator (so the stuck kernels end) and end the job (abort_job). The host communicator gets
// the same watchdog for barrier() and split().
//
// Lifetime: construction and destruction are collective over the group (ncclCommInitRank
// synchronizes the ranks; ncclCommDestroy flushes outstanding work). Destroy groups in the same
// order on every rank. The calling thread's current device must be the one bound at start-up.
//
// No CUDA or NCCL header here or in comm_nccl.cpp: handles are void*, and the calls go through
// the CUDA plugin (kernels/cuda_plugin.h), which alone links the CUDA runtime and NCCL.
#pragma once

#include <cstddef>
#include <memory>

#include "parallel/comm.h"

namespace parallel {

class NcclComm final : public Comm {
 public:
  // Collective over `host`, which spans exactly the ranks of the new group (same rank order).
  explicit NcclComm(std::unique_ptr<Comm> host);
  ~NcclComm() override;
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "nccl"; }
  // Tensors must be on Device::kCuda (host tensors go through the MPI backend).
  void all_reduce(Tensor t, ReduceOp op, Stream s) override;
  void all_gather(Tensor out, Tensor in, Stream s) override;
  void reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream s) override;
  void broadcast(Tensor t, int root, Stream s) override;
  // A host barrier over the bootstrap communicator (e.g. "every rank wrote its checkpoint
  // shard"). It does not wait for GPU work: synchronize the stream first if that is needed.
  void barrier() override;
  // Splits the host communicator (MPI_Comm_split) and bootstraps a new NCCL communicator over
  // the resulting group with a fresh unique id. Collective over this group.
  std::unique_ptr<Comm> split(int color, int key) override;

  // The stream NCCL runs on; for callers that want to queue more work behind a collective.
  Stream stream() const { return Stream{stream_}; }
  // The host communicator of the same ranks (bootstrap, barrier).
  Comm& host() const { return *host_; }

  // Collective over `host`: true when every rank of the group drives a different GPU (host name
  // + PCI bus id). NCCL refuses a communicator with two ranks on one GPU; groups.cpp asks first
  // and falls back to MPI instead of failing inside ncclCommInitRank.
  static bool gpus_distinct(Comm& host);

  void set_watchdog(std::shared_ptr<Watchdog> w, const std::string& name) override;

 private:
  struct Watcher;  // comm_nccl_watch.cpp
  // Steps 1 and 3 of the ordering above, around every NCCL call.
  void begin(Stream caller);
  void end(Stream caller);

  std::unique_ptr<Comm> host_;
  int rank_ = 0, size_ = 1, device_ = 0;  // device_: the GPU this rank drives (the watcher binds it)
  void* comm_ = nullptr;    // ncclComm_t
  void* stream_ = nullptr;  // cudaStream_t, non-blocking
  void* ready_ = nullptr;   // cudaEvent_t: the caller's work before the collective is done
  void* done_ = nullptr;    // cudaEvent_t: the collective is done
  struct WatcherStop {  // defined where Watcher is complete (comm_nccl_watch.cpp)
    void operator()(Watcher* w) const;
  };
  std::unique_ptr<Watcher, WatcherStop> watcher_;  // null: no deadline
  // After a collective is queued: hands it to the watcher (no-op without one).
  void watch(const char* op);
};

// cudaMemcpyAsync on `s`: the stream-ordered device copy SelfComm uses for groups of one on a GPU.
void nccl_device_copy(void* dst, const void* src, size_t bytes, Stream s);

}  // namespace parallel
