// model/weights_io.h
// The parameter arena as checkpoint pieces (checkpoint::Piece): how a parameter view of this rank
// is named, located in global coordinates and staged through host memory, and reading the fp32
// master weights of any checkpoint back under this rank's layout. What eval, sample and export
// need (inference/, formats/), and what the run loop's snapshot (trainer/snapshot.cpp) builds its
// optimizer-state pieces with.
//
// Tensor names (CONTRACTS §5): "<kind>/<parameter name>", kind one of master, param, adam_m, adam_v.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "kernels/ops.h"
#include "model/params.h"

namespace model {

// Pieces plus the host staging memory they point into (device runs copy through the host).
struct PieceSet {
  std::vector<checkpoint::Piece> pieces;
  std::vector<std::unique_ptr<char[]>> staging;
  std::vector<std::pair<size_t, Tensor>> device_targets;  // piece index -> device tensor (load side)

  // Adds the piece "<kind>/<spec.name>" over t (this rank's elements [local_begin, +t.numel()) of
  // the parameter). Saving: device data is copied to the host now. Loading: it is staged, and
  // copy_loaded_to_device() moves it after checkpoint::load.
  void add(const std::string& kind, const ParamSpec& spec, const ParamArena& arena, Tensor t, int64_t local_begin,
           bool loading);
  void copy_loaded_to_device();
};

// Reads only the fp32 master weights (any layout) into params and refreshes its compute copy:
// what eval, sample and export need, without optimizer state. Throws InputError (from
// checkpoint::load) when a tensor is missing or shaped differently.
void load_weights(const checkpoint::Manifest& m, ParamArena& params, const kernels::Ops& ops);

}  // namespace model
