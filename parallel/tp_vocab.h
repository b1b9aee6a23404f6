// parallel/tp_vocab.h
// The vocab-parallel pieces of the model: embedding lookup and cross-entropy with the vocabulary
// split over the tensor-parallel group. No rank ever holds the full (N, V) logits.
//
// Rank r owns vocabulary rows [r*V/tp, (r+1)*V/tp) of wte (and of the logits' columns).
//   embedding: each rank looks up the ids it owns (others give zero rows), then reduce_from_tp
//              sums the rows; positions are added by rank 0 only, so they are counted once.
//   cross-entropy: global max (all_reduce max) -> sum of exp and the target's logit (all_reduce
//              sum, one message) -> per-token loss, and dlogits for this rank's columns.
#pragma once

#include "kernels/ops.h"
#include "parallel/comm.h"

namespace parallel {

using kernels::Ops;

struct VocabShard {
  int start = 0;       // first global id this rank owns
  int rows = 0;        // V / tp
  int vocab_real = 0;  // ids >= this are padding (global)
};

void vocab_parallel_embedding_forward(const Ops& ops, Comm& tp, Tensor out, Tensor tokens, Tensor wte_shard,
                                      Tensor wpe, const VocabShard& v, Stream s);
// dout must be the same on every tp rank (it is: the residual stream's gradient is replicated).
void vocab_parallel_embedding_backward(const Ops& ops, Tensor dwte_shard, Tensor dwpe, Tensor dout, Tensor tokens,
                                       const VocabShard& v, Stream s);

// Statistics of one cross-entropy evaluation, kept so the backward pass needs no communication.
// Tensors of (N) rows, fp32 (fp64 in fp64 runs); stats2 holds [row_sumexp; target_logit] so both
// sums travel in one all-reduce.
struct XentStats {
  Tensor row_max;  // (N)
  Tensor stats2;   // (2, N)
  Tensor row_sumexp() const { return stats2.slice_rows(0, 1).reshaped({stats2.dim(1)}); }
  Tensor target_logit() const { return stats2.slice_rows(1, 1).reshaped({stats2.dim(1)}); }
};

// Forward: losses (N) of this rank's logits shard (N, V/tp); fills `stats`.
void vocab_parallel_xent_forward(const Ops& ops, Comm& tp, Tensor losses, Tensor logits, Tensor targets,
                                 const VocabShard& v, XentStats& stats, Stream s);
// Backward: dlogits (may alias logits) = (softmax - onehot) * dloss for this rank's columns.
void vocab_parallel_xent_backward(const Ops& ops, Tensor losses, Tensor dlogits, Tensor logits, Tensor targets,
                                  const VocabShard& v, const XentStats& stats, float dloss, Stream s);

}  // namespace parallel
