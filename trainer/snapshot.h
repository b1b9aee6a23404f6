// trainer/snapshot.h
// The bridge between the run loop's state and checkpoint::Piece lists: which rank writes which
// piece of which tensor, and which pieces each rank reads back on resume (under any layout).
//
// Tensors per parameter NAME (CONTRACTS §5): "master/NAME" fp32 master weights, "adam_m/NAME" and
// "adam_v/NAME" fp32 moments, and "param/NAME" the compute-precision copy when it differs from the
// master (on load the compute copy is always derived from the master: it equals round(master)).
// Who writes: a tensor complete on every dp rank is written by dp rank 0; a ZeRO-1 block by its
// owner; a tp-replicated tensor only by tp rank 0. Every rank reads everything it holds.
// Weights alone (no optimizer) are model/weights_io.h's, which this builds on.
#pragma once

#include "checkpoint/checkpoint.h"
#include "model/weights_io.h"
#include "parallel/layout.h"
#include "trainer/optimizer.h"

namespace trainer {

// What this rank writes. Host pointers are valid until the PieceSet dies (Saver::begin copies).
model::PieceSet pieces_to_save(const ParamArena& params, const AdamW& optim, const parallel::Layout& layout);
// Reads a checkpoint into this rank's arena and optimizer (any layout). Throws InputError (from
// checkpoint::load) when a tensor is missing or shaped differently.
void load_state(const checkpoint::Manifest& m, ParamArena& params, AdamW& optim);

}  // namespace trainer
