// parallel/grad_sync.h
// Data-parallel gradient averaging over the dp group, in buckets of the flat gradient arena.
//
// Buckets bound the size of one message (and, on the GPU, are the unit that can overlap the
// backward pass once it is issued per bucket from the comm stream). The grads are averaged, so a
// dp run computes the gradient of the mean loss over the whole global batch, as one rank would.
#pragma once

#include <cstdint>
#include <vector>

#include "parallel/comm.h"

namespace parallel {

class GradSync {
 public:
  // flat_grads: every gradient of this rank, one contiguous tensor. dp may be null (no-op).
  GradSync(Tensor flat_grads, Comm* dp, int64_t bucket_bytes = 32 << 20);
  void all_reduce_avg(Stream s);
  // ZeRO-1: out (numel/dp) <- the average over dp of this rank's block of the flat grads.
  void reduce_scatter_avg(Tensor out, Stream s);
  int buckets() const { return int(buckets_.size()); }
  int64_t bytes_per_step() const;  // bytes this rank hands to all_reduce per optimizer step

 private:
  Tensor flat_;
  Comm* dp_;
  std::vector<Tensor> buckets_;
};

// The contiguous range of a flat buffer that dp rank r owns under ZeRO-1: [r*n/dp, (r+1)*n/dp).
// n must be a multiple of dp (the parameter arena pads its length for that).
struct ShardRange {
  int64_t begin = 0, count = 0;
};
ShardRange zero_shard(int64_t n, int dp, int dp_rank);

// [begin, begin+count) of a flat 1-D tensor.
Tensor flat_slice(Tensor t, int64_t begin, int64_t count);

}  // namespace parallel
