// model/flops.h
// The one documented FLOP count kiln uses for tokens/s -> MFU (same formula as the benchmarks):
//   FLOPs per token = 6 * N + 12 * n_layer * d_model * seq_len
// N = parameters without the position embedding (the embedding matrix counted once when tied), from
// the real shapes of the architecture: GPT-2's fused qkv and 2 MLP matrices with biases; Llama's
// q (C x NH*hs), k and v (C x NKV*hs each: smaller under grouped-query attention), o, and the three
// SwiGLU matrices (gate, up, down), no biases. The second term is attention's QK^T and AV products
// (forward + backward) over NH query heads of hs channels, NH*hs = d_model (PaLM appendix B); GQA
// shares k and v between heads but every query head still scores every key. docs/METRICS.md.
#pragma once

#include <cstdint>
#include <string>

#include "configs/config.h"

namespace model {

inline int64_t param_count_without_positions(const configs::ModelConfig& m) {
  const int64_t C = m.d_model, F = m.d_ff, V = m.vocab_size, L = m.n_layer;
  const int64_t untied_head = m.tied() ? 0 : V * C;
  if (m.is_llama()) {
    const int64_t hs = m.head_dim(), q = int64_t(m.n_head) * hs, kv = int64_t(m.kv_heads()) * hs;
    const int64_t per_layer = 2 * C + C * (q + 2 * kv) + q * C + 3 * F * C;  // 2 RMSNorms, qkv, o, SwiGLU
    return V * C + L * per_layer + C + untied_head;
  }
  const int64_t per_layer = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (F * C + F) + (C * F + C);
  return V * C + L * per_layer + 2 * C + untied_head;
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
