// kernels/cpu/attention.cpp
// Ops entry points for causal grouped-query attention: shape/dtype checks, then dispatch: fp32
// (multi-head and grouped-query) to the blocked tile-product version (attention_blocked.h), fp64 to
// the templated reference in attention.h.
// Called through kernels::cpu::kOps.
// Not here: the math, tensor-parallel head splitting (the caller passes this rank's heads).
#include "kernels/cpu/attention.h"

#include "kernels/cpu/attention_blocked.h"
#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

namespace {
AttentionGeometry geometry(const AttentionDims& d) { return AttentionGeometry(d.NH, d.NKV, d.hs); }
}  // namespace

void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream) {
  const char* op = "attention_forward";
  const AttentionDims d = check_attention_forward(kDevice, out, lse, qkv, n_head, n_kv_head);
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"}, {&lse, Access::kWrite, "lse", true}, {&qkv, Access::kRead, "qkv"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   if constexpr (std::is_same_v<Real, float>)
                     return attention_forward_blocked(simd::active(), out.as<float>(), lse.as<float>(),
                                                      qkv.as<float>(), d.B, d.T, geometry(d));
                   attention_forward_ref<Real>(out.as<Real>(), lse.as<Real>(), qkv.as<Real>(), d.B, d.T, geometry(d));
                 });
}

void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, int n_kv_head,
                        Stream) {
  const char* op = "attention_backward";
  const AttentionDims d = check_attention_backward(kDevice, dqkv, dout, qkv, out, lse, n_head, n_kv_head);
  dispatch_float(op,
                 {{&dqkv, Access::kWrite, "dqkv"},
                  {&dout, Access::kRead, "dout"},
                  {&qkv, Access::kRead, "qkv"},
                  {&out, Access::kRead, "out"},
                  {&lse, Access::kRead, "lse", true}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   if constexpr (std::is_same_v<Real, float>)
                     return attention_backward_blocked(simd::active(), dqkv.as<float>(), dout.as<float>(),
                                                       qkv.as<float>(), out.as<float>(), lse.as<float>(), d.B, d.T,
                                                       geometry(d));
                   attention_backward_ref<Real>(dqkv.as<Real>(), dout.as<Real>(), qkv.as<Real>(), out.as<Real>(),
                                                lse.as<Real>(), d.B, d.T, geometry(d));
                 });
}

void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head,
                              int n_kv_head, Stream) {
  const char* op = "attention_cached_forward";
  const AttentionDims d = check_attention_cached_forward(kDevice, out, qkv, k_cache, v_cache, pos0, n_head, n_kv_head);
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"},
                  {&qkv, Access::kRead, "qkv"},
                  {&k_cache, Access::kReadWrite, "k_cache"},
                  {&v_cache, Access::kReadWrite, "v_cache"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   if constexpr (std::is_same_v<Real, float>)
                     return attention_cached_forward_blocked(simd::active(), out.as<float>(), qkv.as<float>(),
                                                             k_cache.as<float>(), v_cache.as<float>(), pos0, d.T,
                                                             geometry(d));
                   attention_cached_forward_ref<Real>(out.as<Real>(), qkv.as<Real>(), k_cache.as<Real>(),
                                                      v_cache.as<Real>(), pos0, d.T, geometry(d));
                 });
}

}  // namespace kernels::cpu
