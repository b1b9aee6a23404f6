// kernels/cpu/softmax_xent.cpp
// Ops entry point for fused softmax + cross-entropy: checks (including every target id, once,
// before the parallel loop), then dispatch to softmax_xent.h. Called through kernels::cpu::kOps.
// Not here: the math, averaging over tokens.
#include "kernels/cpu/softmax_xent.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

void softmax_xent(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, int vocab_real, float dloss, Stream) {
  const char* op = "softmax_xent";
  const RowDims d = check_softmax_xent(kDevice, losses, dlogits, logits, targets, vocab_real);
  const int64_t N = d.N, V = d.C;
  const int32_t* tgt = targets.as<int32_t>();
  for (int64_t n = 0; n < N; ++n)
    KILN_CHECK(tgt[n] < vocab_real, op_msg(op, "target " + std::to_string(tgt[n]) + " at row " + std::to_string(n) +
                                                   " is not below vocab_real=" + std::to_string(vocab_real)));
  dispatch_float(op,
                 {{&losses, Access::kWrite, "losses", true},
                  {&dlogits, Access::kWrite, "dlogits"},
                  {&logits, Access::kRead, "logits"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   softmax_xent_ref<Real>(losses.as<Real>(), dlogits.empty() ? nullptr : dlogits.as<Real>(),
                                          logits.as<Real>(), tgt, N, V, vocab_real, Real(dloss));
                 });
}

}  // namespace kernels::cpu
