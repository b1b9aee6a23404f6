// kernels/cpu/rmsnorm.cpp
// Ops entry points for RMSNorm (plain and fused with the residual add): the shared checks, then
// dispatch to rmsnorm.h's templated math. Called through kernels::cpu::kOps. Not here: the math.
// Under bf16/fp16 storage the fused form normalises the fp32 sum before it is rounded for storage
// (as the CUDA kernel does, which keeps the sum in registers).
#include "kernels/cpu/rmsnorm.h"

#include "kernels/cpu/dispatch.h"

namespace kernels::cpu {

void rmsnorm_forward(Tensor out, Tensor rstd, Tensor x, Tensor weight, float eps, Stream) {
  const char* op = "rmsnorm_forward";
  const RowDims d = check_rmsnorm_forward(kDevice, out, rstd, x, weight, eps);
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"},
                  {&rstd, Access::kWrite, "rstd", true},
                  {&x, Access::kRead, "x"},
                  {&weight, Access::kRead, "weight"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   rmsnorm_forward_ref<Real>(out.as<Real>(), rstd.as<Real>(), x.as<Real>(), weight.as<Real>(), d.N,
                                             d.C, Real(eps));
                 });
}

void residual_rmsnorm_forward(Tensor sum, Tensor out, Tensor rstd, Tensor a, Tensor b, Tensor weight, float eps,
                              Stream) {
  const char* op = "residual_rmsnorm_forward";
  const RowDims d = check_residual_rmsnorm_forward(kDevice, sum, out, rstd, a, b, weight, eps);
  dispatch_float(op,
                 {{&sum, Access::kWrite, "sum"},
                  {&out, Access::kWrite, "out"},
                  {&rstd, Access::kWrite, "rstd", true},
                  {&a, Access::kRead, "a"},
                  {&b, Access::kRead, "b"},
                  {&weight, Access::kRead, "weight"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   residual_rmsnorm_forward_ref<Real>(sum.as<Real>(), out.as<Real>(), rstd.as<Real>(), a.as<Real>(),
                                                      b.as<Real>(), weight.as<Real>(), d.N, d.C, Real(eps));
                 });
}

void rmsnorm_backward(Tensor dx, Tensor dweight, Tensor dout, Tensor x, Tensor weight, Tensor rstd, Stream) {
  const char* op = "rmsnorm_backward";
  const RowDims d = check_rmsnorm_backward(kDevice, dx, dweight, dout, x, weight, rstd);
  dispatch_float(op,
                 {{&dx, Access::kReadWrite, "dx"},
                  {&dweight, Access::kReadWrite, "dweight"},
                  {&dout, Access::kRead, "dout"},
                  {&x, Access::kRead, "x"},
                  {&weight, Access::kRead, "weight"},
                  {&rstd, Access::kRead, "rstd", true}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   rmsnorm_backward_ref<Real>(dx.as<Real>(), dweight.as<Real>(), dout.as<Real>(), x.as<Real>(),
                                              weight.as<Real>(), rstd.as<Real>(), d.N, d.C);
                 });
}

}  // namespace kernels::cpu
