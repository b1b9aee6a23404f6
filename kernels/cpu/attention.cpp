// kernels/cpu/attention.cpp
// Ops entry points for causal multi-head attention: shape/dtype checks, then dispatch to the
// templated math in attention.h. Called through kernels::cpu::kOps.
// Not here: the math, tensor-parallel head splitting (the caller passes this rank's heads).
#include "kernels/cpu/attention.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, Stream) {
  const char* op = "attention_forward";
  const AttentionDims d = check_attention_forward(kDevice, out, lse, qkv, n_head);
  const int64_t B = d.B, T = d.T, C = d.C;
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"}, {&lse, Access::kWrite, "lse", true}, {&qkv, Access::kRead, "qkv"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   attention_forward_ref<Real>(out.as<Real>(), lse.as<Real>(), qkv.as<Real>(), B, T, C, n_head);
                 });
}

void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, Stream) {
  const char* op = "attention_backward";
  const AttentionDims d = check_attention_backward(kDevice, dqkv, dout, qkv, out, lse, n_head);
  const int64_t B = d.B, T = d.T, C = d.C;
  dispatch_float(op,
                 {{&dqkv, Access::kWrite, "dqkv"},
                  {&dout, Access::kRead, "dout"},
                  {&qkv, Access::kRead, "qkv"},
                  {&out, Access::kRead, "out"},
                  {&lse, Access::kRead, "lse", true}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   attention_backward_ref<Real>(dqkv.as<Real>(), dout.as<Real>(), qkv.as<Real>(), out.as<Real>(),
                                                lse.as<Real>(), B, T, C, n_head);
                 });
}

void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head, Stream) {
  const char* op = "attention_cached_forward";
  const int64_t C = check_attention_cached_forward(kDevice, out, qkv, k_cache, v_cache, pos0, n_head).C;
  const int64_t n = qkv.dim(0);
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"},
                  {&qkv, Access::kRead, "qkv"},
                  {&k_cache, Access::kReadWrite, "k_cache"},
                  {&v_cache, Access::kReadWrite, "v_cache"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   attention_cached_forward_ref<Real>(out.as<Real>(), qkv.as<Real>(), k_cache.as<Real>(),
                                                      v_cache.as<Real>(), pos0, n, C, n_head);
                 });
}

}  // namespace kernels::cpu
