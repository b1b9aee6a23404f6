// kernels/cpu/layernorm.cpp
// Ops entry points for LayerNorm: shape/dtype checks, then dispatch to layernorm.h's templated
// math (fp64 as is; fp32 with bf16/fp16 tensors widened to fp32 temporaries).
// Called through kernels::cpu::kOps. Not here: the math.
#include "kernels/cpu/layernorm.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias, Stream) {
  const char* op = "layernorm_forward";
  const RowDims d = check_layernorm_forward(kDevice, out, mean, rstd, x, weight, bias);
  const int64_t N = d.N, C = d.C;
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"},
                  {&mean, Access::kWrite, "mean", true},
                  {&rstd, Access::kWrite, "rstd", true},
                  {&x, Access::kRead, "x"},
                  {&weight, Access::kRead, "weight"},
                  {&bias, Access::kRead, "bias"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   layernorm_forward_ref<Real>(out.as<Real>(), mean.as<Real>(), rstd.as<Real>(), x.as<Real>(),
                                               weight.as<Real>(), bias.as<Real>(), N, C);
                 });
}

void layernorm_backward(Tensor dx, Tensor dweight, Tensor dbias, Tensor dout, Tensor x, Tensor weight,
                        Tensor mean, Tensor rstd, Stream) {
  const char* op = "layernorm_backward";
  const RowDims d = check_layernorm_backward(kDevice, dx, dweight, dbias, dout, x, weight, mean, rstd);
  const int64_t N = d.N, C = d.C;
  dispatch_float(op,
                 {{&dx, Access::kReadWrite, "dx"},
                  {&dweight, Access::kReadWrite, "dweight"},
                  {&dbias, Access::kReadWrite, "dbias"},
                  {&dout, Access::kRead, "dout"},
                  {&x, Access::kRead, "x"},
                  {&weight, Access::kRead, "weight"},
                  {&mean, Access::kRead, "mean", true},
                  {&rstd, Access::kRead, "rstd", true}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   layernorm_backward_ref<Real>(dx.as<Real>(), dweight.as<Real>(), dbias.as<Real>(), dout.as<Real>(),
                                                x.as<Real>(), weight.as<Real>(), mean.as<Real>(), rstd.as<Real>(), N,
                                                C);
                 });
}

}  // namespace kernels::cpu
