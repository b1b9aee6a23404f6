// parallel/grad_sync.h
// The gradient's one path across ranks: data-parallel averaging (plain or ZeRO-1), the global
// gradient norm, and, under ZeRO-1, gathering the updated parameters back. The optimizer that runs
// between finish() and gather_params() is local: it updates the range owned() names and knows
// nothing of ranks. One step reads:
//
//   backward (bucket_ready(k) as buckets finish) -> finish() -> optimizer on owned_grads()
//     -> gather_params()
//
// Plain data parallelism: buckets are contiguous ranges of the flat gradient arena in the order
// backward completes them (the model lists them: the last layers first). During the last
// micro-step of an optimizer step the trainer calls bucket_ready(k) as soon as bucket k's
// gradients are final, so its all-reduce is queued while backward still computes earlier layers:
// on the GPU the NCCL comm stream runs it under the remaining backward work (ordered by events,
// STYLE E13); the MPI backend is synchronous, so on the CPU the order is the same and nothing
// overlaps. finish() issues whatever is left. Every rank then owns (and updates) everything.
//
// ZeRO-1: dp rank r owns block r of the flat arena ([r*n/dp, (r+1)*n/dp): optimizer moments and
// the fp32 master exist only for it). finish() reduce-scatters the whole arena into that block,
// averaged, in one collective: per-bucket reduce-scatters would need every bucket split across dp
// (Megatron's bucket-sharded layout), which changes which rank owns which element and so the
// checkpoint layout; that is for the GPU overlap work. gather_params() all-gathers the updated
// blocks of the compute weights so every rank has the full model again.
//
// The averages make a dp run compute the gradient of the mean loss over the whole global batch,
// as one rank would.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/device.h"
#include "parallel/comm.h"
#include "parallel/groups.h"

namespace parallel {

struct ShardRange {
  int64_t begin = 0, count = 0;
};

// Sums of squared gradients a rank computed over the range it owns, split by how the parameters
// are held across tp: tp-sharded ones (each rank has distinct elements) and tp-replicated ones
// (every tp rank has the same elements, so they must be counted once). fp32, as the device sums
// them (kernels::Ops::sum_squares).
struct GradSquares {
  float sharded = 0, replicated = 0;
  // This rank's share of the global sum: replicated parameters are the same on every tp rank, so
  // tp rank 0 alone contributes them.
  float share(int tp_rank) const { return sharded + (tp_rank == 0 ? replicated : 0.f); }
};

class GradSync {
 public:
  // flat_grads: every gradient of this rank, one contiguous tensor (length a multiple of dp under
  // ZeRO-1). buckets: ranges of it in ready order, covering it; empty = one bucket of everything.
  // zero1: shard the optimizer over groups.dp (meaningful when dp > 1). groups must outlive this.
  GradSync(Tensor flat_grads, const ProcessGroups& groups, std::vector<ShardRange> buckets, bool zero1);

  // Plain: all-reduce (average) bucket k now, unless already done. ZeRO-1: nothing yet (finish()
  // reduce-scatters everything at once).
  void bucket_ready(int k, Stream s);
  // The step's gradient reduction is complete after this: the buckets not yet issued (plain) or the
  // reduce-scatter into this rank's block (ZeRO-1).
  void finish(Stream s);

  bool sharded() const { return sharded_; }
  // The range of the flat arena this rank updates: all of it, or its ZeRO-1 block.
  ShardRange owned() const { return own_; }
  // Its gradients, averaged over dp, valid after finish(): a view of the arena (plain) or of this
  // rank's own fp32 block (ZeRO-1).
  Tensor owned_grads() const { return owned_grads_; }

  // The global L2 norm from this rank's squares of owned_grads(): summed over tp (replicated
  // parameters counted on tp rank 0 only) and, under ZeRO-1, over the dp blocks. Collective over
  // tp (and dp); the same on every rank.
  double global_norm(GradSquares local);

  // ZeRO-1: every rank updated only its block of `flat_compute` (the arena's compute weights);
  // gather all blocks so each rank holds the full weights (all_gather's in-place form: the block
  // already sits where it belongs). Plain: nothing to do.
  void gather_params(Tensor flat_compute, Stream s);

  int buckets() const { return int(buckets_.size()); }

 private:
  Tensor flat_;
  const ProcessGroups& groups_;
  bool sharded_ = false;
  ShardRange own_;
  std::vector<Tensor> buckets_;
  std::vector<bool> issued_;
  kernels::Buffer shard_grads_;  // ZeRO-1: this rank's averaged gradient block (master dtype)
  Tensor owned_grads_;
  kernels::OwnedTensor scalar_;  // (1) fp32: the norm's cross-rank sum, on the gradients' device
};

// The contiguous range of a flat buffer that dp rank r owns under ZeRO-1: [r*n/dp, (r+1)*n/dp).
// n must be a multiple of dp (the parameter arena pads its length for that).
ShardRange zero_shard(int64_t n, int dp, int dp_rank);

// [begin, begin+count) of a flat 1-D tensor.
Tensor flat_slice(Tensor t, int64_t begin, int64_t count);

}  // namespace parallel
