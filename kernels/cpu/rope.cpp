// kernels/cpu/rope.cpp
// Ops entry points for rotary position embedding: the shared checks, then dispatch to rope.h.
// Called through kernels::cpu::kOps. Not here: the math.
#include "kernels/cpu/rope.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

namespace {
void rope(const char* op, const AttentionDims& d, Tensor& x, int pos0, float theta, int direction) {
  dispatch_float(op, {{&x, Access::kReadWrite, "qkv"}}, [&](auto tag) {
    using Real = decltype(tag);
    rope_ref<Real>(x.as<Real>(), d.B, d.T, d.W, d.NH + d.NKV, d.hs, pos0, double(theta), direction);
  });
}
}  // namespace

void rope_forward(Tensor qkv, int n_head, int n_kv_head, int pos0, float theta, Stream) {
  rope("rope_forward", check_rope_forward(kDevice, qkv, n_head, n_kv_head, pos0, theta), qkv, pos0, theta, +1);
}

void rope_backward(Tensor dqkv, int n_head, int n_kv_head, int pos0, float theta, Stream) {
  rope("rope_backward", check_rope_backward(kDevice, dqkv, n_head, n_kv_head, pos0, theta), dqkv, pos0, theta, -1);
}

}  // namespace kernels::cpu
