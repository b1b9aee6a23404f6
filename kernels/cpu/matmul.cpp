// kernels/cpu/matmul.cpp
// Ops entry points for the linear layer. Called through kernels::cpu::kOps. The products go
// through gemm() (gemm.cpp: BLAS, split over kiln's OpenMP threads).
// Not here: the epilogues a GPU fuses (GELU, bias-grad tricks): the CPU keeps them separate.
#include "kernels/cpu/matmul.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

void matmul_forward(Tensor out, Tensor inp, Tensor weight, Tensor bias, Stream) {
  const char* op = "matmul_forward";
  const LinearDims d = check_matmul_forward(kDevice, out, inp, weight, bias);
  const int64_t N = d.N, IC = d.IC, OC = d.OC;
  dispatch_float(op,
                 {{&out, Access::kWrite, "out"},
                  {&inp, Access::kRead, "inp"},
                  {&weight, Access::kRead, "weight"},
                  {&bias, Access::kRead, "bias"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   matmul_forward_ref<Real>(out.as<Real>(), inp.as<Real>(), weight.as<Real>(),
                                            bias.empty() ? nullptr : bias.as<Real>(), N, IC, OC);
                 });
}

void matmul_backward(Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp, Tensor weight, Stream) {
  const char* op = "matmul_backward";
  const LinearDims d = check_matmul_backward(kDevice, dinp, dweight, dbias, dout, inp, weight);
  const int64_t N = d.N, IC = d.IC, OC = d.OC;
  dispatch_float(op,
                 {{&dinp, Access::kWrite, "dinp"},
                  {&dweight, Access::kReadWrite, "dweight"},
                  {&dbias, Access::kReadWrite, "dbias"},
                  {&dout, Access::kRead, "dout"},
                  {&inp, Access::kRead, "inp"},
                  {&weight, Access::kRead, "weight"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   // fp32: the bias gradient by the vectorised column sums (threads split columns).
                   constexpr bool fast = std::is_same_v<Real, float>;
                   matmul_backward_ref<Real>(dinp.empty() ? nullptr : dinp.as<Real>(), dweight.as<Real>(),
                                             dbias.empty() || fast ? nullptr : dbias.as<Real>(), dout.as<Real>(),
                                             inp.as<Real>(), weight.as<Real>(), N, IC, OC);
                   if constexpr (fast)
                     if (!dbias.empty()) simd::active().column_sums_add(dbias.as<float>(), dout.as<float>(), N, OC);
                 });
}

}  // namespace kernels::cpu
