// kernels/cpu/xent_shard.cpp
// Ops entry points of the vocab-parallel cross-entropy passes: shape/dtype checks, then dispatch
// to xent_shard.h. Called through kernels::cpu::kOps by parallel/tp_xent.cpp.
#include "kernels/cpu/xent_shard.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

namespace {
// logits (N, Vs) or (B, T, Vs); returns {N, Vs} after checking the per-row tensors have N entries.
std::pair<int64_t, int64_t> rows_and_cols(const char* op, const Tensor& logits, std::initializer_list<NamedTensor> rows) {
  KILN_CHECK(logits.shape.ndim >= 2, op_msg(op, "logits must be (N, Vs), got " + logits.shape.str()));
  const int64_t Vs = last_dim(logits), N = Vs ? logits.numel() / Vs : 0;
  for (const NamedTensor& r : rows) {
    check_present(op, r.name, *r.t);
    check_numel(op, r.name, *r.t, N);
  }
  return {N, Vs};
}
}  // namespace

void xent_shard_max(Tensor row_max, Tensor logits, int vocab_start, int vocab_real, Stream) {
  const char* op = "xent_shard_max";
  check_present(op, "logits", logits);
  const auto [N, Vs] = rows_and_cols(op, logits, {{"row_max", &row_max}});
  dispatch_float(op, {{&row_max, Access::kWrite, "row_max", true}, {&logits, Access::kRead, "logits"}}, [&](auto tag) {
    using Real = decltype(tag);
    xent_shard_max_ref<Real>(row_max.as<Real>(), logits.as<Real>(), N, Vs, vocab_start, vocab_real);
  });
}

void xent_shard_sumexp(Tensor row_sumexp, Tensor target_logit, Tensor logits, Tensor targets, Tensor row_max,
                       int vocab_start, int vocab_real, Stream) {
  const char* op = "xent_shard_sumexp";
  check_present(op, "logits", logits);
  check_int32(op, "targets", targets);
  const auto [N, Vs] = rows_and_cols(op, logits, {{"row_sumexp", &row_sumexp}, {"target_logit", &target_logit},
                                                  {"row_max", &row_max}, {"targets", &targets}});
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
  check_present(op, "logits", logits);
  check_int32(op, "targets", targets);
  const auto [N, Vs] = rows_and_cols(op, logits, {{"losses", &losses}, {"row_max", &row_max}, {"row_sumexp", &row_sumexp},
                                                  {"target_logit", &target_logit}, {"targets", &targets}});
  if (!dlogits.empty()) check_shape(op, "dlogits", dlogits, logits.shape);
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
