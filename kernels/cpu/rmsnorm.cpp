// kernels/cpu/rmsnorm.cpp
// Ops entry points for RMSNorm (plain and fused with the residual add): the shared checks, then
// dispatch to rmsnorm.h's templated math. Called through kernels::cpu::kOps. Not here: the math.
// The fused form normalises the sum as stored: in fp32/fp64 the reference does both in one pass;
// under bf16/fp16 storage (emulated through fp32 temporaries, rounded on write-back) it adds, rounds,
// then normalises the rounded sum, which is what the CUDA kernel computes.
#include "kernels/cpu/rmsnorm.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/elementwise.h"

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
  if (sum.dtype == DType::BF16 || sum.dtype == DType::F16) {
    residual_forward(sum, a, b, {});
    rmsnorm_forward(out, rstd, sum, weight, eps, {});
    return;
  }
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
