// kernels/cpu/swiglu.cpp
// Ops entry points for SwiGLU: the shared checks, then dispatch to swiglu.h.
// Called through kernels::cpu::kOps. Not here: the math.
#include "kernels/cpu/swiglu.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

void swiglu_forward(Tensor out, Tensor inp, Stream) {
  const char* op = "swiglu_forward";
  const RowDims d = check_swiglu_forward(kDevice, out, inp);
  dispatch_float(op, {{&out, Access::kWrite, "out"}, {&inp, Access::kRead, "inp"}}, [&](auto tag) {
    using Real = decltype(tag);
    swiglu_forward_ref<Real>(out.as<Real>(), inp.as<Real>(), d.N, d.C);
  });
}

void swiglu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream) {
  const char* op = "swiglu_backward";
  const RowDims d = check_swiglu_backward(kDevice, dinp, dout, inp);
  dispatch_float(op, {{&dinp, Access::kWrite, "dinp"}, {&dout, Access::kRead, "dout"}, {&inp, Access::kRead, "inp"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   swiglu_backward_ref<Real>(dinp.as<Real>(), dout.as<Real>(), inp.as<Real>(), d.N, d.C);
                 });
}

}  // namespace kernels::cpu
