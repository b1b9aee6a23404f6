// kernels/cpu/layernorm.cpp
// Ops entry points for LayerNorm: shape/dtype checks, then dispatch to layernorm.h's templated
// math (fp64 as is) or, for fp32 (bf16/fp16 tensors widened to fp32 temporaries), to the
// vectorised kernels of simd/table.h. residual_layernorm_forward is the residual add then the
// forward, the two ops in sequence: on the CPU the add is a small memory-bound pass next to the
// matrix products, and composing the two keeps the fused form bit for bit the unfused one in every
// dtype (the GPU kernel is the one pass, kernels/cuda/layernorm.cu).
// Called through kernels::cpu::kOps. Not here: the math.
#include "kernels/cpu/layernorm.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/simd/table.h"

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
                   if constexpr (std::is_same_v<Real, float>)
                     simd::active().layernorm_forward(out.as<float>(), mean.as<float>(), rstd.as<float>(),
                                                      x.as<float>(), weight.as<float>(), bias.as<float>(), N, C);
                   else
                     layernorm_forward_ref<Real>(out.as<Real>(), mean.as<Real>(), rstd.as<Real>(), x.as<Real>(),
                                                 weight.as<Real>(), bias.as<Real>(), N, C);
                 });
}

void residual_layernorm_forward(Tensor sum, Tensor out, Tensor mean, Tensor rstd, Tensor a, Tensor b, Tensor weight,
                                Tensor bias, Stream s) {
  check_residual_layernorm_forward(kDevice, sum, out, mean, rstd, a, b, weight, bias);
  residual_forward(sum, a, b, s);  // rounds sum to its dtype: the x layernorm_backward will see
  layernorm_forward(out, mean, rstd, sum, weight, bias, s);
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
                   if constexpr (std::is_same_v<Real, float>)
                     simd::active().layernorm_backward(dx.as<float>(), dweight.as<float>(), dbias.as<float>(),
                                                       dout.as<float>(), x.as<float>(), weight.as<float>(),
                                                       mean.as<float>(), rstd.as<float>(), N, C);
                   else
                     layernorm_backward_ref<Real>(dx.as<Real>(), dweight.as<Real>(), dbias.as<Real>(), dout.as<Real>(),
                                                  x.as<Real>(), weight.as<Real>(), mean.as<Real>(), rstd.as<Real>(), N,
                                                  C);
                 });
}

}  // namespace kernels::cpu
