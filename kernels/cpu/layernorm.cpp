// kernels/cpu/layernorm.cpp
// Ops entry points for LayerNorm: shape/dtype checks, then dispatch to layernorm.h's templated
// math (fp64 as is) or, for fp32 (bf16/fp16 tensors widened to fp32 temporaries), to the
// vectorised kernels of simd/table.h.
// Called through kernels::cpu::kOps. Not here: the math.
#include "kernels/cpu/layernorm.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

namespace {
// x is (N,C) or (B,T,C): C is the last dimension, N everything before it.
void check_rows(const char* op, const Tensor& x, int64_t* N, int64_t* C) {
  KILN_CHECK(x.shape.ndim >= 2, op_msg(op, "x must have at least 2 dims (N, C), got " + x.shape.str()));
  *C = last_dim(x);
  *N = *C ? x.numel() / *C : 0;
}
}  // namespace

void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias, Stream) {
  const char* op = "layernorm_forward";
  check_present(op, {{"out", &out}, {"mean", &mean}, {"rstd", &rstd}, {"x", &x}, {"weight", &weight}, {"bias", &bias}});
  int64_t N, C;
  check_rows(op, x, &N, &C);
  check_shape(op, "out", out, x.shape);
  check_numel(op, "mean", mean, N);
  check_numel(op, "rstd", rstd, N);
  check_shape(op, "weight", weight, {C});
  check_shape(op, "bias", bias, {C});
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

void layernorm_backward(Tensor dx, Tensor dweight, Tensor dbias, Tensor dout, Tensor x, Tensor weight,
                        Tensor mean, Tensor rstd, Stream) {
  const char* op = "layernorm_backward";
  check_present(op, {{"dx", &dx}, {"dweight", &dweight}, {"dbias", &dbias}, {"dout", &dout}, {"x", &x},
                     {"weight", &weight}, {"mean", &mean}, {"rstd", &rstd}});
  int64_t N, C;
  check_rows(op, x, &N, &C);
  check_shape(op, "dx", dx, x.shape);
  check_shape(op, "dout", dout, x.shape);
  check_shape(op, "weight", weight, {C});
  check_shape(op, "dweight", dweight, {C});
  check_shape(op, "dbias", dbias, {C});
  check_numel(op, "mean", mean, N);
  check_numel(op, "rstd", rstd, N);
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
