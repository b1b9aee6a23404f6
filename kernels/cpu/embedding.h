// kernels/cpu/embedding.h
// Token + position embedding, reference math templated on the scalar (float in the backend,
// double in gradient checks). Called by embedding.cpp (the Ops entry points) and by tests.
// Not here: dtype dispatch or shape checks (embedding.cpp), vocab-parallel sharding (parallel/).
#pragma once

#include <cstdint>

#include "kernels/tensor.h"

namespace kernels::cpu {

// out (B,T,C) = wte[tokens[b,t] - start] + wpe[t].  tokens (B,T); wte (Vs,C) holds global rows
// [start, start+Vs): an id outside that range contributes a zero row (vocab-parallel shards).
// wpe (>=T, C) may be null: no positions.
template <class Real>
void embedding_forward_ref(Real* out, const int32_t* tokens, const Real* wte, const Real* wpe,
                           int64_t B, int64_t T, int64_t C, int64_t start, int64_t Vs) {
#pragma omp parallel for schedule(static) if (B * T * C > (1 << 15))
  for (int64_t bt = 0; bt < B * T; ++bt) {
    const int64_t row = int64_t(tokens[bt]) - start;
    const Real* e = (row >= 0 && row < Vs) ? wte + row * C : nullptr;
    const Real* p = wpe ? wpe + (bt % T) * C : nullptr;
    Real* o = out + bt * C;
    for (int64_t c = 0; c < C; ++c) o[c] = (e ? e[c] : Real(0)) + (p ? p[c] : Real(0));
  }
}

// dwte (V,C) += scatter-add of dout rows by token; dwpe (>=T, C) += sum over the batch.
// Serial on purpose: two tokens may share a row, and a fixed order keeps results bit-identical
// from run to run (CONTRACTS: N steps + resume + M steps == N + M steps on the CPU). It is
// O(B*T*C), negligible next to the matmuls.
// Ids outside [start, start+Vs) touch no dwte row; dwpe may be null.
template <class Real>
void embedding_backward_ref(Real* dwte, Real* dwpe, const Real* dout, const int32_t* tokens,
                            int64_t B, int64_t T, int64_t C, int64_t start, int64_t Vs) {
  for (int64_t bt = 0; bt < B * T; ++bt) {
    const Real* d = dout + bt * C;
    const int64_t row = int64_t(tokens[bt]) - start;
    if (row >= 0 && row < Vs) {
      Real* ge = dwte + row * C;
      for (int64_t c = 0; c < C; ++c) ge[c] += d[c];
    }
    if (dwpe) {
      Real* gp = dwpe + (bt % T) * C;
      for (int64_t c = 0; c < C; ++c) gp[c] += d[c];
    }
  }
}

// Ops entry points (embedding.cpp).
void embedding_forward(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, int vocab_start, Stream s);
void embedding_backward(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, int vocab_start, Stream s);

}  // namespace kernels::cpu
