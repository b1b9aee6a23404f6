// kernels/cpu/matmul.cpp
// Ops entry points for the linear layer. Called through kernels::cpu::kOps. The products go
// through gemm() (gemm.cpp: BLAS, split over kiln's OpenMP threads).
// Not here: the epilogues a GPU fuses (GELU, bias-grad tricks): the CPU keeps them separate.
#include "kernels/cpu/matmul.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

namespace {
// inp is (N,IC) or (B,T,IC); weight (OC,IC). Returns N, IC, OC.
void check_linear(const char* op, const Tensor& inp, const Tensor& weight, int64_t* N, int64_t* IC, int64_t* OC) {
  KILN_CHECK(inp.shape.ndim >= 2, op_msg(op, "inp must be (N, IC) or (B, T, IC), got " + inp.shape.str()));
  KILN_CHECK(weight.shape.ndim == 2, op_msg(op, "weight must be (OC, IC), got " + weight.shape.str()));
  *IC = last_dim(inp);
  *N = *IC ? inp.numel() / *IC : 0;
  *OC = weight.dim(0);
  KILN_CHECK(weight.dim(1) == *IC, op_msg(op, "weight " + weight.shape.str() + " does not take IC=" + std::to_string(*IC) +
                                                  " inputs (inp " + inp.shape.str() + ")"));
}
// An activation of N rows of `cols` channels, in any leading shape: (N, cols) or (B, T, cols).
void check_rows(const char* op, const char* name, const Tensor& t, int64_t N, int64_t cols) {
  KILN_CHECK(t.shape.ndim >= 2 && last_dim(t) == cols && t.numel() == N * cols,
             op_msg(op, std::string(name) + " has shape " + t.shape.str() + ", expected " + std::to_string(N) +
                            " rows of " + std::to_string(cols)));
}
}  // namespace

void matmul_forward(Tensor out, Tensor inp, Tensor weight, Tensor bias, Stream) {
  const char* op = "matmul_forward";
  check_present(op, {{"out", &out}, {"inp", &inp}, {"weight", &weight}});
  int64_t N, IC, OC;
  check_linear(op, inp, weight, &N, &IC, &OC);
  check_rows(op, "out", out, N, OC);
  if (!bias.empty()) check_shape(op, "bias", bias, {OC});
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
  check_present(op, {{"dweight", &dweight}, {"dout", &dout}, {"inp", &inp}, {"weight", &weight}});
  int64_t N, IC, OC;
  check_linear(op, inp, weight, &N, &IC, &OC);
  check_rows(op, "dout", dout, N, OC);
  check_shape(op, "dweight", dweight, weight.shape);
  if (!dinp.empty()) check_rows(op, "dinp", dinp, N, IC);
  if (!dbias.empty()) check_shape(op, "dbias", dbias, {OC});
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
