// parallel/tp_mappings.h
// Tensor-parallel communication as named adjoint pairs (Megatron's mappings, STYLE E11). Each
// function is the adjoint of its partner, so a backward pass is never a guess:
//   copy_to_tp      forward: identity          backward: all_reduce(sum) over tp
//                   (before a column-parallel matmul: every rank reads the same replicated input,
//                    and the input's gradient is the sum of every rank's partial gradient)
//   reduce_from_tp  forward: all_reduce(sum)   backward: identity
//                   (after a row-parallel matmul: each rank holds a partial sum of the output)
// Without tensor parallelism `tp` is a group of one (a SelfComm): then all four are identities.
#pragma once

#include "parallel/comm.h"

namespace parallel {

inline void copy_to_tp_forward(Tensor, Comm&, Stream) {}
inline void copy_to_tp_backward(Tensor grad, Comm& tp, Stream s) {
  if (tp.size() > 1) tp.all_reduce(grad, ReduceOp::kSum, s);
}
inline void reduce_from_tp_forward(Tensor act, Comm& tp, Stream s) {
  if (tp.size() > 1) tp.all_reduce(act, ReduceOp::kSum, s);
}
inline void reduce_from_tp_backward(Tensor, Comm&, Stream) {}

}  // namespace parallel
