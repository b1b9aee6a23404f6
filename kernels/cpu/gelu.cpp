// kernels/cpu/gelu.cpp
// Ops entry points for GELU: size/dtype checks, then dispatch: fp32 to the vectorised kernels of
// simd/table.h, fp64 to the reference in gelu.h.
// Called through kernels::cpu::kOps. Not here: the math, fused matmul+GELU (a CUDA epilogue).
#include "kernels/cpu/gelu.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

void gelu_forward(Tensor out, Tensor inp, Stream) {
  const char* op = "gelu_forward";
  check_gelu_forward(kDevice, out, inp);
  dispatch_float(op, {{&out, Access::kWrite, "out"}, {&inp, Access::kRead, "inp"}}, [&](auto tag) {
    using Real = decltype(tag);
    if constexpr (std::is_same_v<Real, float>)
      simd::active().gelu_forward(out.as<float>(), inp.as<float>(), inp.numel());
    else
      gelu_forward_ref<Real>(out.as<Real>(), inp.as<Real>(), inp.numel());
  });
}

void gelu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream) {
  const char* op = "gelu_backward";
  check_gelu_backward(kDevice, dinp, dout, inp);
  dispatch_float(op, {{&dinp, Access::kWrite, "dinp"}, {&dout, Access::kRead, "dout"}, {&inp, Access::kRead, "inp"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   if constexpr (std::is_same_v<Real, float>)
                     simd::active().gelu_backward(dinp.as<float>(), dout.as<float>(), inp.as<float>(), inp.numel());
                   else
                     gelu_backward_ref<Real>(dinp.as<Real>(), dout.as<Real>(), inp.as<Real>(), inp.numel());
                 });
}

}  // namespace kernels::cpu
