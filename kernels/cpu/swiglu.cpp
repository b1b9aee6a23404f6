// kernels/cpu/swiglu.cpp
// Ops entry points for SwiGLU: the shared checks, then dispatch: fp32 to the vectorised kernels of
// simd/table.h, fp64 to the reference in swiglu.h.
// Called through kernels::cpu::kOps. Not here: the math.
#include "kernels/cpu/swiglu.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

void swiglu_forward(Tensor out, Tensor inp, Stream) {
  const char* op = "swiglu_forward";
  const RowDims d = check_swiglu_forward(kDevice, out, inp);
  dispatch_float(op, {{&out, Access::kWrite, "out"}, {&inp, Access::kRead, "inp"}}, [&](auto tag) {
    using Real = decltype(tag);
    if constexpr (std::is_same_v<Real, float>)
      simd::active().swiglu_forward(out.as<float>(), inp.as<float>(), d.N, d.C);
    else
      swiglu_forward_ref<Real>(out.as<Real>(), inp.as<Real>(), d.N, d.C);
  });
}

void swiglu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream) {
  const char* op = "swiglu_backward";
  const RowDims d = check_swiglu_backward(kDevice, dinp, dout, inp);
  dispatch_float(op, {{&dinp, Access::kWrite, "dinp"}, {&dout, Access::kRead, "dout"}, {&inp, Access::kRead, "inp"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   if constexpr (std::is_same_v<Real, float>)
                     simd::active().swiglu_backward(dinp.as<float>(), dout.as<float>(), inp.as<float>(), d.N, d.C);
                   else
                     swiglu_backward_ref<Real>(dinp.as<Real>(), dout.as<Real>(), inp.as<Real>(), d.N, d.C);
                 });
}

}  // namespace kernels::cpu
