// model/flops.h
// The one documented FLOP count kiln uses for tokens/s -> MFU (same formula as the benchmarks):
//   FLOPs per token = 6 * N + 12 * n_layer * d_model * seq_len
// N = parameters without the position embedding (embedding matmul counted once when tied). The
// second term is attention's QK^T and AV products (forward + backward), PaLM appendix B.
#pragma once

#include <cstdint>
#include <string>

#include "configs/config.h"

namespace model {

inline int64_t param_count_without_positions(const configs::ModelConfig& m) {
  const int64_t C = m.d_model, F = m.d_ff, V = m.vocab_size, L = m.n_layer;
  const int64_t per_layer = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (F * C + F) + (C * F + C);
  return V * C + L * per_layer + 2 * C + (m.tie_embeddings ? 0 : V * C);
}

inline double flops_per_token(const configs::ModelConfig& m) {
  return 6.0 * double(param_count_without_positions(m)) + 12.0 * m.n_layer * m.d_model * double(m.seq_len);
}

// Dense bf16 peak of an H100 SXM, the reference the brief and issue 3 use for MFU.
constexpr double kH100PeakFlops = 989.4e12;

// Dense bf16 tensor-core peak (FLOP/s) of a GPU by its CUDA device name, 0 when kiln does not know
// it (mfu is then null rather than a guess). MFU is always quoted against the bf16 peak, whatever
// the run's precision, so numbers compare across runs (the PaLM / Megatron convention).
inline double peak_bf16_flops(const std::string& gpu_name) {
  struct Known {
    const char* name_part;
    double flops;
  };
  // More specific names first: "H100 PCIe" before "H100".
  static const Known kKnown[] = {{"H100 PCIe", 756.0e12}, {"H100", kH100PeakFlops}, {"H200", 989.4e12},
                                 {"B200", 2250e12},        {"A100", 312e12}};
  for (const Known& k : kKnown)
    if (gpu_name.find(k.name_part) != std::string::npos) return k.flops;
  return 0;
}

}  // namespace model
