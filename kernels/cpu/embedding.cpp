// kernels/cpu/embedding.cpp
// Ops entry points for the token + position embedding: checks, then dtype dispatch to the
// templated math in embedding.h. Called through kernels::cpu::kOps.
// Not here: the math itself (embedding.h), vocab-parallel embedding (parallel/tp_linear).
#include "kernels/cpu/embedding.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

namespace {
// Negative ids are a caller bug (loaders never produce them); ids at or past the shard's end are
// legal: they belong to another vocab-parallel shard and contribute zero. A data check, so the CPU
// makes it on the host (the GPU traps on the device).
void check_token_ids(const char* op, const Tensor& tokens) {
  const int32_t* tok = tokens.as<int32_t>();
  for (int64_t i = 0; i < tokens.numel(); ++i)
    KILN_CHECK(tok[i] >= 0, op_msg(op, "token " + std::to_string(tok[i]) + " at flat position " + std::to_string(i) +
                                           " is negative"));
}
}  // namespace

void embedding_forward(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, int vocab_start, Stream) {
  const char* op = "embedding_forward";
  const EmbeddingDims d = check_embedding_forward(kDevice, out, tokens, wte, wpe);
  const int64_t B = d.B, T = d.T, C = d.C, rows = d.rows;
  check_token_ids(op, tokens);
  dispatch_float(op, {{&out, Access::kWrite, "out"}, {&wte, Access::kRead, "wte"}, {&wpe, Access::kRead, "wpe"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   embedding_forward_ref<Real>(out.as<Real>(), tokens.as<int32_t>(), wte.as<Real>(),
                                               wpe.empty() ? nullptr : wpe.as<Real>(), B, T, C, vocab_start, rows);
                 });
}

void embedding_backward(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, int vocab_start, Stream) {
  const char* op = "embedding_backward";
  const EmbeddingDims d = check_embedding_backward(kDevice, dwte, dwpe, dout, tokens);
  const int64_t B = d.B, T = d.T, C = d.C, rows = d.rows;
  check_token_ids(op, tokens);
  dispatch_float(op,
                 {{&dwte, Access::kReadWrite, "dwte"}, {&dwpe, Access::kReadWrite, "dwpe"}, {&dout, Access::kRead, "dout"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   embedding_backward_ref<Real>(dwte.as<Real>(), dwpe.empty() ? nullptr : dwpe.as<Real>(),
                                                dout.as<Real>(), tokens.as<int32_t>(), B, T, C, vocab_start, rows);
                 });
}

}  // namespace kernels::cpu
