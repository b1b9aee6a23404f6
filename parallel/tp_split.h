// parallel/tp_split.h
// How a tensor is split over the tensor-parallel group, and the index arithmetic between a tp
// rank's local shard and the global tensor. Used by the parameter arena (which shard to hold and
// initialise), and by checkpoints (which carry global coordinates so any layout can load them).
#pragma once

#include <cstdint>

#include "kernels/tensor.h"

namespace parallel {

// Megatron's column/row parallelism, as seen by one tensor.
enum class Split : int {
  kReplicated = 0,  // every tp rank holds all of it (LayerNorms, wpe, biases added after a reduce)
  kRows = 1,        // axis 0 split in tp contiguous blocks: column-parallel weights + biases, wte
  kCols = 2,        // axis 1 split: row-parallel weights (their input features are split)
  kQkvRows = 3,     // axis 0 is [q; k; v], each split by heads: rank r holds its heads of all three
};

const char* split_name(Split s);  // "replicated" | "rows" | "cols" | "qkv_rows"
bool parse_split(const char* name, Split* out);

// This tp rank's shape of a tensor of global shape `global`.
kernels::Shape local_shape(kernels::Shape global, Split split, int tp);
// Global flat element index (row-major in the global shape) of local element e on tp rank r.
int64_t global_index(kernels::Shape global, Split split, int tp, int tp_rank, int64_t e);
// The inverse: which tp rank holds global element g, and at which local index. For kReplicated
// every rank holds it; tp_rank 0 is returned.
void local_index(kernels::Shape global, Split split, int tp, int64_t g, int* tp_rank, int64_t* e);

}  // namespace parallel
