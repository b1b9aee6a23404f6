// parallel/comm_mpi.h
// MpiComm: comm.h over an MPI communicator, moving host memory. The backend of CPU training and of
// CI (mpirun -np 1..4 on a laptop), the world communicator of every multi-rank run, and the
// bootstrap that NcclComm broadcasts its unique id over.
//
// Synchronous: every call returns when the data is in place, so the Stream argument orders
// nothing. Device tensors are accepted but staged through host memory after a device
// synchronize: correct and slow, for groups NCCL cannot serve (two ranks on one GPU).
//
// bf16 / fp16 reductions use user-defined MPI_Ops that add (or max) pairs in fp32 and round the
// result back to 16 bits at every combining step: the reduction happens "in the same dtype", as
// NCCL does it, with no fp32 copy of the tensor. kAvg is the sum, then a division by n.
//
// MPI must be initialised before any MpiComm is made (launch::discover does it; the MPI test main
// does it for tests). This header does not include mpi.h (ARCHITECTURE principle 5): the
// MPI_Comm lives behind a pointer to an incomplete type.
#pragma once

#include <memory>

#include "parallel/comm.h"

namespace parallel {

class MpiComm final : public Comm {
 public:
  // MPI_COMM_WORLD (not freed on destruction). Fails if MPI is not initialised.
  static std::unique_ptr<MpiComm> world();
  ~MpiComm() override;  // MPI_Comm_free for communicators made by split(), if MPI is still up
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }
  void all_reduce(Tensor t, ReduceOp op, Stream s) override;
  void all_gather(Tensor out, Tensor in, Stream s) override;
  void reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream s) override;
  void broadcast(Tensor t, int root, Stream s) override;
  void barrier() override;
  // MPI_Comm_split(color, key): collective over this communicator. color must be >= 0.
  std::unique_ptr<Comm> split(int color, int key) override;
  // Collectives from now on complete under w's deadline (non-blocking forms, polled).
  void set_watchdog(std::shared_ptr<Watchdog> w, const std::string& name) override;

 private:
  struct Handle;  // holds the MPI_Comm; defined in comm_mpi.cpp
  MpiComm(std::unique_ptr<Handle> h, bool owned);
  void all_reduce_host(Tensor t, ReduceOp op);
  void all_gather_host(Tensor out, Tensor in);
  void reduce_scatter_host(Tensor out, Tensor in, ReduceOp op);
  void broadcast_host(Tensor t, int root);
  template <class Blocking, class Start>
  void collective(const char* op, const char* what, Blocking&& blocking, Start&& start);
  [[noreturn]] static void fail_mpi(const char* what, int err);

  std::unique_ptr<Handle> h_;
  bool owned_ = false;  // true: this object frees the communicator
  int rank_ = 0, size_ = 1;
};

}  // namespace parallel
