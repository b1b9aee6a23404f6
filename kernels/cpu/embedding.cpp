// kernels/cpu/embedding.cpp
// Ops entry points for the token + position embedding: checks, then dtype dispatch to the
// templated math in embedding.h. Called through kernels::cpu::kOps.
// Not here: the math itself (embedding.h), vocab-parallel embedding (parallel/tp_linear).
#include "kernels/cpu/embedding.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

namespace {
// Shapes: tokens (B,T). Negative ids are a caller bug (loaders never produce them); ids at or past
// the shard's end are legal: they belong to another vocab-parallel shard and contribute zero.
void check_tokens(const char* op, const Tensor& tokens) {
  check_int32(op, "tokens", tokens);
  KILN_CHECK(tokens.shape.ndim == 2, op_msg(op, "tokens must be (B, T), got " + tokens.shape.str()));
  const int32_t* tok = tokens.as<int32_t>();
  for (int64_t i = 0; i < tokens.numel(); ++i)
    KILN_CHECK(tok[i] >= 0, op_msg(op, "token " + std::to_string(tok[i]) + " at flat position " + std::to_string(i) +
                                           " is negative"));
}
}  // namespace

void embedding_forward(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, int vocab_start, Stream) {
  const char* op = "embedding_forward";
  check_present(op, {{"out", &out}, {"wte", &wte}});
  KILN_CHECK(wte.shape.ndim == 2, op_msg(op, "wte must be 2-D (rows, C)"));
  check_tokens(op, tokens);
  const int64_t B = tokens.dim(0), T = tokens.dim(1), C = wte.dim(1);
  if (!wpe.empty()) {
    check_cpu(op, "wpe", wpe);
    KILN_CHECK(wpe.shape.ndim == 2 && wpe.dim(1) == C,
               op_msg(op, "wpe " + wpe.shape.str() + " must be (rows, " + std::to_string(C) + ")"));
    KILN_CHECK(wpe.dim(0) >= T, op_msg(op, "sequence length " + std::to_string(T) + " exceeds wpe rows " +
                                               std::to_string(wpe.dim(0))));
  }
  check_shape(op, "out", out, {B, T, C});
  dispatch_float(op, {{&out, Access::kWrite, "out"}, {&wte, Access::kRead, "wte"}, {&wpe, Access::kRead, "wpe"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   embedding_forward_ref<Real>(out.as<Real>(), tokens.as<int32_t>(), wte.as<Real>(),
                                               wpe.empty() ? nullptr : wpe.as<Real>(), B, T, C, vocab_start, wte.dim(0));
                 });
}

void embedding_backward(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, int vocab_start, Stream) {
  const char* op = "embedding_backward";
  check_present(op, {{"dwte", &dwte}, {"dout", &dout}});
  KILN_CHECK(dwte.shape.ndim == 2, op_msg(op, "dwte must be 2-D (rows, C)"));
  check_tokens(op, tokens);
  const int64_t B = tokens.dim(0), T = tokens.dim(1), C = dwte.dim(1);
  if (!dwpe.empty()) {
    check_cpu(op, "dwpe", dwpe);
    KILN_CHECK(dwpe.shape.ndim == 2 && dwpe.dim(1) == C && dwpe.dim(0) >= T,
               op_msg(op, "dwpe " + dwpe.shape.str() + " does not fit T=" + std::to_string(T) + ", C=" + std::to_string(C)));
  }
  check_shape(op, "dout", dout, {B, T, C});
  dispatch_float(op,
                 {{&dwte, Access::kReadWrite, "dwte"}, {&dwpe, Access::kReadWrite, "dwpe"}, {&dout, Access::kRead, "dout"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   embedding_backward_ref<Real>(dwte.as<Real>(), dwpe.empty() ? nullptr : dwpe.as<Real>(),
                                                dout.as<Real>(), tokens.as<int32_t>(), B, T, C, vocab_start, dwte.dim(0));
                 });
}

}  // namespace kernels::cpu
