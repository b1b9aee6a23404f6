// parallel/tp_vocab.cpp
#include "parallel/tp_vocab.h"

#include "parallel/tp_mappings.h"

namespace parallel {

void vocab_parallel_embedding_forward(const Ops& ops, Comm& tp, Tensor out, Tensor tokens, Tensor wte_shard,
                                      Tensor wpe, const VocabShard& v, Stream s) {
  const bool first = tp.rank() == 0;
  ops.embedding_forward(out, tokens, wte_shard, first ? wpe : Tensor{}, v.start, s);
  reduce_from_tp_forward(out, tp, s);
}

void vocab_parallel_embedding_backward(const Ops& ops, Tensor dwte_shard, Tensor dwpe, Tensor dout, Tensor tokens,
                                       const VocabShard& v, Stream s) {
  // reduce_from_tp's backward is the identity: every rank scatters the full dout into its own rows.
  // wpe was added on rank 0 only, but its gradient is dout on every rank, so all ranks compute it
  // and the replicated wpe stays identical everywhere.
  ops.embedding_backward(dwte_shard, dwpe, dout, tokens, v.start, s);
}

void vocab_parallel_xent_forward(const Ops& ops, Comm& tp, Tensor losses, Tensor logits, Tensor targets,
                                 const VocabShard& v, XentStats& stats, Stream s) {
  ops.xent_shard_max(stats.row_max, logits, v.start, v.vocab_real, s);
  if (tp.size() > 1) tp.all_reduce(stats.row_max, ReduceOp::kMax, s);
  ops.xent_shard_sumexp(stats.row_sumexp(), stats.target_logit(), logits, targets, stats.row_max, v.start,
                        v.vocab_real, s);
  // Only the owner of a target contributes its logit (others wrote 0), so a sum gathers it.
  if (tp.size() > 1) tp.all_reduce(stats.stats2, ReduceOp::kSum, s);
  ops.xent_shard_finish(losses, Tensor{}, logits, targets, stats.row_max, stats.row_sumexp(), stats.target_logit(),
                        v.start, v.vocab_real, 0.f, s);
}

void vocab_parallel_xent_backward(const Ops& ops, Tensor losses, Tensor dlogits, Tensor logits, Tensor targets,
                                  const VocabShard& v, const XentStats& stats, float dloss, Stream s) {
  ops.xent_shard_finish(losses, dlogits, logits, targets, stats.row_max, stats.row_sumexp(), stats.target_logit(),
                        v.start, v.vocab_real, dloss, s);
}

}  // namespace parallel
