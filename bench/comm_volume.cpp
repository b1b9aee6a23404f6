// bench/comm_volume.cpp -> kiln_bench_comm
// Prints the bytes one rank hands to collectives per optimizer step for GPT-2 124M and a 1.3B
// model (GPT-3 XL shape) under several dp x tp layouts, from trainer/comm_volume.h's formula,
// which tests/trainer/test_parallel_equivalence.cpp checks byte-for-byte against a measured run.
// Pure arithmetic: runs anywhere in milliseconds. docs/COMMUNICATION.md discusses the table.
#include <cstdio>

#include "model/comm_volume.h"

namespace {

struct Model {
  const char* name;
  int n_layer, n_head, d_model, micro_batch;
};

void row(const Model& m, int dp, int tp, int zero, kernels::DType dt) {
  configs::Config c;
  c.model.n_layer = m.n_layer;
  c.model.n_head = m.n_head;
  c.model.d_model = m.d_model;
  c.model.d_ff = 4 * m.d_model;
  c.model.seq_len = 1024;
  c.train.micro_batch = m.micro_batch;
  c.train.global_batch = 512;  // sequences: 0.5M tokens per step, as GPT-2/3 small runs use
  c.parallel.zero = zero;
  const model::StepCommVolume v = model::step_comm_volume(c, dp, tp, dt);
  const double accum = double(c.train.global_batch) / (double(m.micro_batch) * dp);
  std::printf("| %-9s | %3d | %2d | %4s | %5.0f | %9.1f | %9.3f | %9.3f | %9.3f | %9.3f |\n", m.name, dp, tp,
              zero ? "yes" : "no", accum, double(v.local_params) / 1e6, double(v.dp_payload) / 1e9, v.dp_wire / 1e9,
              double(v.tp_payload) / 1e9, v.tp_wire / 1e9);
}

}  // namespace

int main() {
  const Model models[] = {{"gpt2-124m", 12, 12, 768, 16}, {"1.3b", 24, 16, 2048, 8}};
  std::printf("bytes per optimizer step per rank, bf16 compute, fp32 grads, seq 1024, global batch 512 sequences\n");
  std::printf("(payload = buffers handed to collectives; wire = what a ring algorithm sends)\n\n");
  std::printf("| model     |  dp | tp | zero | accum | P_local M | dp GB pay | dp GB wire| tp GB pay | tp GB wire|\n");
  std::printf("|-----------|-----|----|------|-------|-----------|-----------|-----------|-----------|-----------|\n");
  for (const Model& m : models) {
    row(m, 8, 1, 0, kernels::DType::BF16);
    row(m, 8, 1, 1, kernels::DType::BF16);
    row(m, 4, 2, 0, kernels::DType::BF16);
    row(m, 2, 4, 0, kernels::DType::BF16);
    row(m, 1, 8, 0, kernels::DType::BF16);
  }
  return 0;
}
