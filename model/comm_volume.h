// model/comm_volume.h
// How many bytes one rank hands to collectives in one optimizer step, by formula. The formula is
// checked against a CountingComm measurement (tests/trainer/test_parallel_equivalence.cpp) and
// tabulated for GPT-2 124M and a 1.3B model by bench/comm_volume.cpp (docs/COMMUNICATION.md).
//
// Per micro-step, with tp > 1 (A = B*T*C activation elements, compute-dtype bytes):
//   forward   embedding all-reduce A; per layer 2 all-reduces of A (after attention and MLP);
//             cross-entropy: row max (B*T fp32) + [sumexp; target logit] (2*B*T fp32)
//   backward  1 all-reduce of A (final LayerNorm input); per layer 2 (qkv and MLP-up inputs)
//   => (2 + 4L) * A * bytes + 12 * B*T   bytes,  times the accumulation steps
// Per optimizer step:
//   dp, plain    all-reduce of every local gradient (fp32): 4 * P_local
//   dp, ZeRO-1   reduce-scatter of the gradients 4 * P_local + all-gather of this rank's block of
//                compute weights P_local/dp * bytes
//   scalars      the loss over dp (4), the grad norm over tp (4) and, under ZeRO-1, over dp (4)
// "Payload" is the buffer a rank passes in; per rank a ring all-reduce sends 2(n-1)/n times it,
// a reduce-scatter (n-1)/n times its input, an all-gather n-1 times its block.
#pragma once

#include <cstdint>

#include "configs/config.h"
#include "kernels/dtype.h"

namespace model {

struct StepCommVolume {
  int64_t tp_payload = 0, dp_payload = 0;  // bytes handed to tp / dp collectives per step
  double tp_wire = 0, dp_wire = 0;         // bytes a ring algorithm sends per rank per step
  int64_t local_params = 0;                // P_local: elements of this rank's parameter arena
};

StepCommVolume step_comm_volume(const configs::Config& cfg, int dp, int tp, kernels::DType compute);

}  // namespace model
