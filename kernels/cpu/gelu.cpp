// kernels/cpu/gelu.cpp
// Ops entry points for GELU: size/dtype checks, then dispatch to gelu.h.
// Called through kernels::cpu::kOps. Not here: the math, fused matmul+GELU (a CUDA epilogue).
#include "kernels/cpu/gelu.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

void gelu_forward(Tensor out, Tensor inp, Stream) {
  const char* op = "gelu_forward";
  check_gelu_forward(kDevice, out, inp);
  dispatch_float(op, {{&out, Access::kWrite, "out"}, {&inp, Access::kRead, "inp"}}, [&](auto tag) {
    using Real = decltype(tag);
    gelu_forward_ref<Real>(out.as<Real>(), inp.as<Real>(), inp.numel());
  });
}

void gelu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream) {
  const char* op = "gelu_backward";
  check_gelu_backward(kDevice, dinp, dout, inp);
  dispatch_float(op, {{&dinp, Access::kWrite, "dinp"}, {&dout, Access::kRead, "dout"}, {&inp, Access::kRead, "inp"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   gelu_backward_ref<Real>(dinp.as<Real>(), dout.as<Real>(), inp.as<Real>(), inp.numel());
                 });
}

}  // namespace kernels::cpu
