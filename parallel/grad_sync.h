// parallel/grad_sync.h
// Data-parallel gradient averaging over the dp group, in buckets of the flat gradient arena.
//
// Buckets are contiguous ranges of the arena in the order backward completes them (the model
// lists them: the last layers first). During the last micro-step of an optimizer step the trainer
// calls bucket_ready(k) as soon as bucket k's gradients are final, so its all-reduce is queued
// while backward still computes earlier layers: on the GPU the NCCL comm stream runs it under
// the remaining backward work (ordered by events, STYLE E13); the MPI backend is synchronous, so
// on the CPU the order is the same and nothing overlaps. finish() issues whatever is left. The
// grads are averaged, so a dp run computes the gradient of the mean loss over the whole global
// batch, as one rank would.
#pragma once

#include <cstdint>
#include <vector>

#include "parallel/comm.h"

namespace parallel {

struct ShardRange {
  int64_t begin = 0, count = 0;
};

class GradSync {
 public:
  // flat_grads: every gradient of this rank, one contiguous tensor. dp may be null (no-op).
  // buckets: ranges of flat_grads in ready order, covering it; empty = one bucket of everything.
  GradSync(Tensor flat_grads, Comm* dp, std::vector<ShardRange> buckets = {});
  void bucket_ready(int k, Stream s);  // all-reduce (average) bucket k now, unless already done
  void finish(Stream s);               // every bucket not yet issued; then the step's sync is done
  // ZeRO-1: out (numel/dp) <- the average over dp of this rank's block of the flat grads.
  void reduce_scatter_avg(Tensor out, Stream s);
  int buckets() const { return int(buckets_.size()); }

 private:
  Tensor flat_;
  Comm* dp_;
  std::vector<Tensor> buckets_;
  std::vector<bool> issued_;
};

// The contiguous range of a flat buffer that dp rank r owns under ZeRO-1: [r*n/dp, (r+1)*n/dp).
// n must be a multiple of dp (the parameter arena pads its length for that).
ShardRange zero_shard(int64_t n, int dp, int dp_rank);

// [begin, begin+count) of a flat 1-D tensor.
Tensor flat_slice(Tensor t, int64_t begin, int64_t count);

}  // namespace parallel
