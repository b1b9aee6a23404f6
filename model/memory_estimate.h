// model/memory_estimate.h
// What a GPT-2 model will allocate on one rank, computed from the config before anything is
// allocated, so an impossible size (`model.n_layer=2000000000`, `model.d_model=2e9`) is an exit-2
// message naming the keys, the bytes needed and the bytes available instead of an overflowed
// Shape::numel, a failed malloc of 8e18 bytes or an hour spent building 24e9 parameter specs.
//
// The numbers are the model's own: parameter sizes come from gpt2_param_specs() and the arena's
// padding rules (params.cpp), activations from the buffer list of Gpt2Model::alloc_activations()
// (gpt2.cpp), the ZeRO-1 block from GradSync and AdamW, checkpoint staging from what trainer/snapshot.cpp copies.
// tests/model/test_memory_estimate.cpp compares the estimate with the bytes those constructors
// really allocate (kernels::host_bytes_allocated_total) for several shapes: if gpt2.cpp gains a
// buffer, that test fails until this file learns it.
//
// Called by Trainer's constructor (training) and load_model (eval, sample, export). All
// arithmetic is 128-bit, so nothing here can overflow whatever the config says.
#pragma once

#include <cstdint>
#include <string>

#include "configs/config.h"
#include "kernels/device.h"
#include "kernels/dtype.h"

namespace model {

// What the allocation depends on besides the model config.
struct MemoryShape {
  configs::ModelConfig model;
  int micro_batch = 1;
  int tp = 1;                                   // tensor-parallel degree: this rank's share
  int zero_dp = 0;                              // > 0: ZeRO-1 over that many dp ranks
  kernels::DType compute = kernels::DType::F32;  // activations and the compute copy of weights
  kernels::DType master = kernels::DType::F32;   // master weights and gradients
  bool checkpoint_staging = false;              // training saves checkpoints through a host copy
  kernels::Device device = kernels::Device::kCpu;
};

// Bytes on one rank by kind. Each is exact for the CPU allocator (requests rounded up to 64 bytes).
// A quantity past int64 saturates at INT64_MAX and `overflow` says which keys multiply past it.
struct MemoryEstimate {
  int64_t parameters = 0;            // elements in this rank's arena (padding and alignment included)
  int64_t master = 0, compute = 0, grads = 0, moments = 0;
  int64_t zero_shard = 0;            // the ZeRO-1 block: GradSync's grads, AdamW's m, v and maybe master
  int64_t activations = 0;           // all of Gpt2Model's activation and scratch buffers
  int64_t activations_per_layer = 0;
  int64_t staging = 0;               // checkpoint staging copy on the host (training only)
  int64_t total = 0;                 // on the model's device (staging counts on a CPU run only)
  std::string overflow;              // "" or e.g. "model.d_model x model.d_model x 3 (attn.c_attn.weight)"
};

MemoryEstimate estimate_model_memory(const MemoryShape& s);

// Throws kernels::InputError when the estimate overflowed, or needs more than s.device has
// available (kernels::available_memory; skipped when that is unknown). The message names the
// model keys and micro-batch with their values, the bytes needed with a breakdown and the bytes
// available with their source. `who` starts the message ("model", "checkpoint x: model").
void require_memory(const MemoryShape& s, const std::string& who = "model");

// "12.3 GiB" / "512 MiB" / "4.0 KiB" / "17 bytes": for messages.
std::string human_bytes(double bytes);

}  // namespace model
