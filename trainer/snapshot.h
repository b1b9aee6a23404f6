// trainer/snapshot.h
// The bridge between the trainer's state and checkpoint::Piece lists: which rank writes which
// piece of which tensor, and which pieces each rank reads back on resume (under any layout).
//
// Tensors per parameter NAME (CONTRACTS §5): "master/NAME" fp32 master weights, "adam_m/NAME" and
// "adam_v/NAME" fp32 moments, and "param/NAME" the compute-precision copy when it differs from the
// master (on load the compute copy is always derived from the master: it equals round(master)).
// Who writes: a tensor complete on every dp rank is written by dp rank 0; a ZeRO-1 block by its
// owner; a tp-replicated tensor only by tp rank 0. Every rank reads everything it holds.
#pragma once

#include <memory>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "parallel/layout.h"
#include "trainer/optimizer.h"
#include "trainer/params.h"

namespace trainer {

// Pieces plus the host staging memory they point into (device runs copy through the host).
struct PieceSet {
  std::vector<checkpoint::Piece> pieces;
  std::vector<std::unique_ptr<char[]>> staging;
  std::vector<std::pair<size_t, Tensor>> device_targets;  // piece index -> device tensor (load side)
};

// What this rank writes. Host pointers are valid until the PieceSet dies (Saver::begin copies).
PieceSet pieces_to_save(const ParamArena& params, const AdamW& optim, const parallel::Layout& layout);

// Reads a checkpoint into this rank's arena and optimizer (any layout). Throws InputError (from
// checkpoint::load) when a tensor is missing or shaped differently.
void load_state(const checkpoint::Manifest& m, ParamArena& params, AdamW& optim);

// Reads only the fp32 master weights (any layout) into params and refreshes its compute copy:
// what eval, sample and export need, without optimizer state.
void load_weights(const checkpoint::Manifest& m, ParamArena& params, const kernels::Ops& ops);

}  // namespace trainer
