// kernels/cpu/xent_shard.cpp
// Ops entry points of the vocab-parallel cross-entropy passes: shape/dtype checks, then dispatch
// to xent_shard.h. Called through kernels::cpu::kOps by parallel/tp_xent.cpp.
#include "kernels/cpu/xent_shard.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

void xent_shard_max(Tensor row_max, Tensor logits, int vocab_start, int vocab_real, Stream) {
  const char* op = "xent_shard_max";
  const RowDims d = check_xent_shard_max(kDevice, row_max, logits);
  const int64_t N = d.N, Vs = d.C;
  dispatch_float(op, {{&row_max, Access::kWrite, "row_max", true}, {&logits, Access::kRead, "logits"}}, [&](auto tag) {
    using Real = decltype(tag);
    xent_shard_max_ref<Real>(row_max.as<Real>(), logits.as<Real>(), N, Vs, vocab_start, vocab_real);
  });
}

void xent_shard_sumexp(Tensor row_sumexp, Tensor target_logit, Tensor logits, Tensor targets, Tensor row_max,
                       int vocab_start, int vocab_real, Stream) {
  const char* op = "xent_shard_sumexp";
  const RowDims d = check_xent_shard_sumexp(kDevice, row_sumexp, target_logit, logits, targets, row_max);
  const int64_t N = d.N, Vs = d.C;
  dispatch_float(op,
                 {{&row_sumexp, Access::kWrite, "row_sumexp", true},
                  {&target_logit, Access::kWrite, "target_logit", true},
                  {&row_max, Access::kRead, "row_max", true},
                  {&logits, Access::kRead, "logits"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   xent_shard_sumexp_ref<Real>(row_sumexp.as<Real>(), target_logit.as<Real>(), logits.as<Real>(),
                                               targets.as<int32_t>(), row_max.as<Real>(), N, Vs, vocab_start,
                                               vocab_real);
                 });
}

void xent_shard_finish(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, Tensor row_max,
                       Tensor row_sumexp, Tensor target_logit, int vocab_start, int vocab_real, float dloss, Stream) {
  const char* op = "xent_shard_finish";
  const RowDims d =
      check_xent_shard_finish(kDevice, losses, dlogits, logits, targets, row_max, row_sumexp, target_logit);
  const int64_t N = d.N, Vs = d.C;
  dispatch_float(op,
                 {{&losses, Access::kWrite, "losses", true},
                  {&dlogits, Access::kWrite, "dlogits"},
                  {&logits, Access::kRead, "logits"},
                  {&row_max, Access::kRead, "row_max", true},
                  {&row_sumexp, Access::kRead, "row_sumexp", true},
                  {&target_logit, Access::kRead, "target_logit", true}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   xent_shard_finish_ref<Real>(losses.as<Real>(), dlogits.empty() ? nullptr : dlogits.as<Real>(),
                                               logits.as<Real>(), targets.as<int32_t>(), row_max.as<Real>(),
                                               row_sumexp.as<Real>(), target_logit.as<Real>(), N, Vs, vocab_start,
                                               vocab_real, Real(dloss));
                 });
}

}  // namespace kernels::cpu
