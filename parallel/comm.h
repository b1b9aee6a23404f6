// parallel/comm.h
// A communicator over a group of ranks: the collectives kiln's parallel layouts need, on tensors.
//
// Two backends (ARCHITECTURE principle 4, STYLE E5/E10): MPI moves host memory (CPU training, CI),
// NCCL moves device memory on its own stream. Which one a group uses follows the device of the
// tensors the trainer trains on; callers never see MPI or NCCL types. Every call is collective:
// all ranks of the group must make it, in the same order, with the same shapes and dtypes.
//
// Semantics (n = size(), r = rank()):
//   all_reduce      t (any shape) <- op over ranks of t, in place
//   all_gather      out (n * in.numel()) <- concatenation of every rank's in, rank order
//   reduce_scatter  out (in.numel() / n) <- op over ranks of in's r-th 1/n block
//   broadcast       t <- root's t
// Supported dtypes: fp32, fp64, bf16/fp16 (sum reduces in the same dtype), int32 (sum/max).
// kAvg divides by n after summing. Stream: the compute stream the data is ordered on; the NCCL
// backend orders its own stream after it with an event. The MPI backend is synchronous.
#pragma once

#include <memory>
#include <string>

#include "kernels/device.h"
#include "kernels/tensor.h"

namespace parallel {

class Watchdog;

using kernels::Stream;
using kernels::Tensor;

enum class ReduceOp { kSum, kAvg, kMax };

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* backend() const = 0;  // "mpi", "nccl", "self"
  virtual void all_reduce(Tensor t, ReduceOp op, Stream s) = 0;
  virtual void all_gather(Tensor out, Tensor in, Stream s) = 0;
  virtual void reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream s) = 0;
  virtual void broadcast(Tensor t, int root, Stream s) = 0;
  virtual void barrier() = 0;
  // Splits this group: ranks with the same color form a new group, ordered by key (MPI_Comm_split).
  virtual std::unique_ptr<Comm> split(int color, int key) = 0;
  // From now on a collective of this group that does not complete within w's timeout ends the
  // job with a report (parallel/watchdog.h); `name` is what the report calls the group ("dp").
  // Groups of one have nothing to wait for: the default ignores it.
  virtual void set_watchdog(std::shared_ptr<Watchdog> w, const std::string& name) { (void)w, (void)name; }
};

}  // namespace parallel
