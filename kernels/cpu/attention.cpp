// kernels/cpu/attention.cpp
// Ops entry points for causal multi-head attention: shape/dtype checks, then dispatch: fp32 to the
// blocked sgemm version (attention_blocked.h), fp64 to the templated reference in attention.h.
// Called through kernels::cpu::kOps.
// Not here: the math, tensor-parallel head splitting (the caller passes this rank's heads).
#include "kernels/cpu/attention.h"

#include "kernels/attention_cached_shapes.h"
#include "kernels/cpu/attention_blocked.h"
#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

namespace {
// qkv (B,T,3C) with C divisible by n_head. Returns B, T, C.
void check_qkv(const char* op, const Tensor& qkv, int n_head, int64_t* B, int64_t* T, int64_t* C) {
  KILN_CHECK(qkv.shape.ndim == 3 && qkv.dim(2) % 3 == 0,
             op_msg(op, "qkv must be (B, T, 3C), got " + qkv.shape.str()));
  *B = qkv.dim(0);
  *T = qkv.dim(1);
  *C = qkv.dim(2) / 3;
  KILN_CHECK(n_head > 0 && *C % n_head == 0,
             op_msg(op, "C=" + std::to_string(*C) + " is not divisible by n_head=" + std::to_string(n_head)));
}
}  // namespace

void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, Stream) {
  const char* op = "attention_forward";
  check_present(op, {{"out", &out}, {"lse", &lse}, {"qkv", &qkv}});
  int64_t B, T, C;
  check_qkv(op, qkv, n_head, &B, &T, &C);
  check_shape(op, "out", out, {B, T, C});
  check_shape(op, "lse", lse, {B, n_head, T});
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"}, {&lse, Access::kWrite, "lse", true}, {&qkv, Access::kRead, "qkv"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   if constexpr (std::is_same_v<Real, float>)
                     attention_forward_blocked(simd::active(), out.as<float>(), lse.as<float>(), qkv.as<float>(), B, T,
                                               C, n_head);
                   else
                     attention_forward_ref<Real>(out.as<Real>(), lse.as<Real>(), qkv.as<Real>(), B, T, C, n_head);
                 });
}

void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, Stream) {
  const char* op = "attention_backward";
  check_present(op, {{"dqkv", &dqkv}, {"dout", &dout}, {"qkv", &qkv}, {"out", &out}, {"lse", &lse}});
  int64_t B, T, C;
  check_qkv(op, qkv, n_head, &B, &T, &C);
  check_shape(op, "dqkv", dqkv, qkv.shape);
  check_shape(op, "dout", dout, {B, T, C});
  check_shape(op, "out", out, {B, T, C});
  check_shape(op, "lse", lse, {B, n_head, T});
  dispatch_float(op,
                 {{&dqkv, Access::kWrite, "dqkv"},
                  {&dout, Access::kRead, "dout"},
                  {&qkv, Access::kRead, "qkv"},
                  {&out, Access::kRead, "out"},
                  {&lse, Access::kRead, "lse", true}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   if constexpr (std::is_same_v<Real, float>)
                     attention_backward_blocked(simd::active(), dqkv.as<float>(), dout.as<float>(), qkv.as<float>(),
                                                out.as<float>(), lse.as<float>(), B, T, C, n_head);
                   else
                     attention_backward_ref<Real>(dqkv.as<Real>(), dout.as<Real>(), qkv.as<Real>(), out.as<Real>(),
                                                  lse.as<Real>(), B, T, C, n_head);
                 });
}

void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head, Stream) {
  const char* op = "attention_cached_forward";
  check_present(op, {{"out", &out}, {"qkv", &qkv}, {"k_cache", &k_cache}, {"v_cache", &v_cache}});
  const int64_t C = check_attention_cached_shapes(op, out, qkv, k_cache, v_cache, pos0, n_head);
  const int64_t n = qkv.dim(0);
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"},
                  {&qkv, Access::kRead, "qkv"},
                  {&k_cache, Access::kReadWrite, "k_cache"},
                  {&v_cache, Access::kReadWrite, "v_cache"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   if constexpr (std::is_same_v<Real, float>)
                     attention_cached_forward_blocked(simd::active(), out.as<float>(), qkv.as<float>(),
                                                      k_cache.as<float>(), v_cache.as<float>(), pos0, n, C, n_head);
                   else
                     attention_cached_forward_ref<Real>(out.as<Real>(), qkv.as<Real>(), k_cache.as<Real>(),
                                                        v_cache.as<Real>(), pos0, n, C, n_head);
                 });
}

}  // namespace kernels::cpu
