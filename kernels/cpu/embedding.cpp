// kernels/cpu/embedding.cpp
// Ops entry points for the token + position embedding: checks, then dtype dispatch to the
// templated math in embedding.h. Called through kernels::cpu::kOps.
// Not here: the math itself (embedding.h), vocab-parallel embedding (parallel/tp_linear).
#include "kernels/cpu/embedding.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

namespace {
// Shapes: tokens (B,T), table (rows,C). Returns {B, T}. Also range-checks every token id once,
// outside the parallel loops, so a bad id fails with its position instead of reading past wte.
void check_tokens(const char* op, const Tensor& tokens, int64_t vocab) {
  check_int32(op, "tokens", tokens);
  KILN_CHECK(tokens.shape.ndim == 2, op_msg(op, "tokens must be (B, T), got " + tokens.shape.str()));
  const int32_t* tok = tokens.as<int32_t>();
  for (int64_t i = 0; i < tokens.numel(); ++i)
    KILN_CHECK(tok[i] >= 0 && tok[i] < vocab, op_msg(op, "token " + std::to_string(tok[i]) + " at flat position " +
                                                          std::to_string(i) + " is outside [0, " +
                                                          std::to_string(vocab) + ")"));
}
}  // namespace

void embedding_forward(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, Stream) {
  const char* op = "embedding_forward";
  check_present(op, {{"out", &out}, {"wte", &wte}, {"wpe", &wpe}});
  KILN_CHECK(wte.shape.ndim == 2 && wpe.shape.ndim == 2, op_msg(op, "wte and wpe must be 2-D (rows, C)"));
  check_tokens(op, tokens, wte.dim(0));
  const int64_t B = tokens.dim(0), T = tokens.dim(1), C = wte.dim(1);
  KILN_CHECK(wpe.dim(1) == C, op_msg(op, "wpe has " + std::to_string(wpe.dim(1)) + " channels, wte " + std::to_string(C)));
  KILN_CHECK(wpe.dim(0) >= T, op_msg(op, "sequence length " + std::to_string(T) + " exceeds wpe rows " +
                                             std::to_string(wpe.dim(0))));
  check_shape(op, "out", out, {B, T, C});
  dispatch_float(op, {{&out, Access::kWrite, "out"}, {&wte, Access::kRead, "wte"}, {&wpe, Access::kRead, "wpe"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   embedding_forward_ref<Real>(out.as<Real>(), tokens.as<int32_t>(), wte.as<Real>(), wpe.as<Real>(),
                                               B, T, C);
                 });
}

void embedding_backward(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, Stream) {
  const char* op = "embedding_backward";
  check_present(op, {{"dwte", &dwte}, {"dwpe", &dwpe}, {"dout", &dout}});
  KILN_CHECK(dwte.shape.ndim == 2 && dwpe.shape.ndim == 2, op_msg(op, "dwte and dwpe must be 2-D (rows, C)"));
  check_tokens(op, tokens, dwte.dim(0));
  const int64_t B = tokens.dim(0), T = tokens.dim(1), C = dwte.dim(1);
  KILN_CHECK(dwpe.dim(1) == C && dwpe.dim(0) >= T, op_msg(op, "dwpe " + dwpe.shape.str() + " does not fit T=" +
                                                                  std::to_string(T) + ", C=" + std::to_string(C)));
  check_shape(op, "dout", dout, {B, T, C});
  dispatch_float(op,
                 {{&dwte, Access::kReadWrite, "dwte"}, {&dwpe, Access::kReadWrite, "dwpe"}, {&dout, Access::kRead, "dout"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   embedding_backward_ref<Real>(dwte.as<Real>(), dwpe.as<Real>(), dout.as<Real>(),
                                                tokens.as<int32_t>(), B, T, C);
                 });
}

}  // namespace kernels::cpu
