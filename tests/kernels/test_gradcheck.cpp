// tests/kernels/test_gradcheck.cpp
// Every op with a backward, checked against central finite differences in double:
// L = sum_i w_i out_i with fixed random w, dL/dx by FD (h = 1e-6) vs the analytic backward fed
// dout = w; norm-based relative error < 1e-6. Each check runs twice: through the templated
// reference (kernels/cpu/*.h) with Real = double, and through the Ops table with fp64 Tensors,
// which proves the table's fp64 dispatch reaches the same math.
// Not here: fp32/bf16 accuracy (test_precision.cpp), conventions (test_conventions.cpp).
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/softmax_xent.h"
#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

// GetParam() == true: go through cpu::kOps with F64 tensors; false: call the *_ref<double> template.
class GradCheck : public ::testing::TestWithParam<bool> {
 protected:
  bool by_table() const { return GetParam(); }
  std::string tag(const char* what) const { return std::string(by_table() ? "ops/" : "ref/") + what; }
  const Ops& ops = cpu_ops();
  const Stream s = Stream::host();
};

TEST_P(GradCheck, Embedding) {
  const int64_t B = 2, T = 3, C = 4, V = 5, maxT = 4;  // maxT > T: unused wpe rows get zero grad
  std::vector<int32_t> tokens = {1, 3, 1, 0, 4, 1};    // token 1 repeats: the scatter must add
  std::vector<double> wte = randn(V * C, 11), wpe = randn(maxT * C, 12), w = randn(B * T * C, 13);
  std::vector<double> out = zeros(B * T * C);
  auto loss = [&] {
    if (by_table())
      ops.embedding_forward(view(out, {B, T, C}), view(tokens, {B, T}), view(wte, {V, C}), view(wpe, {maxT, C}), 0, s);
    else
      cpu::embedding_forward_ref(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C, 0, V);
    return dot(w, out);
  };
  std::vector<double> dwte = zeros(V * C), dwpe = zeros(maxT * C);
  if (by_table())
    ops.embedding_backward(view(dwte, {V, C}), view(dwpe, {maxT, C}), view(w, {B, T, C}), view(tokens, {B, T}), 0, s);
  else
    cpu::embedding_backward_ref(dwte.data(), dwpe.data(), w.data(), tokens.data(), B, T, C, 0, V);
  EXPECT_LT(grad_check(tag("embedding.wte"), wte, loss, dwte), kGradTol);
  EXPECT_LT(grad_check(tag("embedding.wpe"), wpe, loss, dwpe), kGradTol);
}

TEST_P(GradCheck, Layernorm) {
  const int64_t B = 2, T = 3, C = 8, N = B * T;
  std::vector<double> x = randn(N * C, 21, 1.5, 0.3), weight = randn(C, 22, 0.3, 1.0), bias = randn(C, 23, 0.2);
  std::vector<double> w = randn(N * C, 24), out = zeros(N * C), mean = zeros(N), rstd = zeros(N);
  auto forward = [&] {
    if (by_table())
      ops.layernorm_forward(view(out, {B, T, C}), view(mean, {B, T}), view(rstd, {B, T}), view(x, {B, T, C}),
                            view(weight, {C}), view(bias, {C}), s);
    else
      cpu::layernorm_forward_ref(out.data(), mean.data(), rstd.data(), x.data(), weight.data(), bias.data(), N, C);
  };
  auto loss = [&] { forward(); return dot(w, out); };
  forward();  // mean/rstd of the unperturbed x, as saved for backward
  std::vector<double> dx = zeros(N * C), dweight = zeros(C), dbias = zeros(C);
  if (by_table())
    ops.layernorm_backward(view(dx, {B, T, C}), view(dweight, {C}), view(dbias, {C}), view(w, {B, T, C}),
                           view(x, {B, T, C}), view(weight, {C}), view(mean, {B, T}), view(rstd, {B, T}), s);
  else
    cpu::layernorm_backward_ref(dx.data(), dweight.data(), dbias.data(), w.data(), x.data(), weight.data(),
                                mean.data(), rstd.data(), N, C);
  EXPECT_LT(grad_check(tag("layernorm.x"), x, loss, dx), kGradTol);
  EXPECT_LT(grad_check(tag("layernorm.weight"), weight, loss, dweight), kGradTol);
  EXPECT_LT(grad_check(tag("layernorm.bias"), bias, loss, dbias), kGradTol);
}

TEST_P(GradCheck, Matmul) {
  const int64_t B = 1, T = 5, N = B * T, IC = 6, OC = 4;
  std::vector<double> inp = randn(N * IC, 31), weight = randn(OC * IC, 32, 0.5), bias = randn(OC, 33);
  std::vector<double> w = randn(N * OC, 34), out = zeros(N * OC);
  auto loss = [&] {
    if (by_table())
      ops.matmul_forward(view(out, {B, T, OC}), view(inp, {B, T, IC}), view(weight, {OC, IC}), view(bias, {OC}), s);
    else
      cpu::matmul_forward_ref(out.data(), inp.data(), weight.data(), bias.data(), N, IC, OC);
    return dot(w, out);
  };
  std::vector<double> dinp = zeros(N * IC), dweight = zeros(OC * IC), dbias = zeros(OC);
  if (by_table())
    ops.matmul_backward(view(dinp, {B, T, IC}), view(dweight, {OC, IC}), view(dbias, {OC}), view(w, {B, T, OC}),
                        view(inp, {B, T, IC}), view(weight, {OC, IC}), s);
  else
    cpu::matmul_backward_ref(dinp.data(), dweight.data(), dbias.data(), w.data(), inp.data(), weight.data(), N, IC,
                             OC);
  EXPECT_LT(grad_check(tag("matmul.inp"), inp, loss, dinp), kGradTol);
  EXPECT_LT(grad_check(tag("matmul.weight"), weight, loss, dweight), kGradTol);
  EXPECT_LT(grad_check(tag("matmul.bias"), bias, loss, dbias), kGradTol);
}

TEST_P(GradCheck, Attention) {
  const int64_t B = 2, T = 6, C = 8, NH = 2;  // hs = 4; T >= 5 so the causal mask matters
  std::vector<double> qkv = randn(B * T * 3 * C, 41), w = randn(B * T * C, 42);
  std::vector<double> out = zeros(B * T * C), lse = zeros(B * NH * T);
  auto forward = [&] {
    if (by_table())
      ops.attention_forward(view(out, {B, T, C}), view(lse, {B, NH, T}), view(qkv, {B, T, 3 * C}), int(NH), int(NH), s);
    else
      cpu::attention_forward_ref(out.data(), lse.data(), qkv.data(), B, T, cpu::AttentionGeometry(NH, NH, C / NH));
  };
  auto loss = [&] { forward(); return dot(w, out); };
  forward();
  std::vector<double> dqkv = zeros(B * T * 3 * C);
  if (by_table())
    ops.attention_backward(view(dqkv, {B, T, 3 * C}), view(w, {B, T, C}), view(qkv, {B, T, 3 * C}),
                           view(out, {B, T, C}), view(lse, {B, NH, T}), int(NH), int(NH), s);
  else
    cpu::attention_backward_ref(dqkv.data(), w.data(), qkv.data(), out.data(), lse.data(), B, T,
                                cpu::AttentionGeometry(NH, NH, C / NH));
  EXPECT_LT(grad_check(tag("attention.qkv"), qkv, loss, dqkv), kGradTol);
}

TEST_P(GradCheck, Gelu) {
  const int64_t n = 40;
  std::vector<double> x = randn(n, 51, 2.0), w = randn(n, 52), out = zeros(n);
  x[0] = 0.0;  // the kink-free centre and a far tail are both covered
  x[1] = -5.0;
  auto loss = [&] {
    if (by_table())
      ops.gelu_forward(view(out, {n}), view(x, {n}), s);
    else
      cpu::gelu_forward_ref(out.data(), x.data(), n);
    return dot(w, out);
  };
  std::vector<double> dx = zeros(n);
  if (by_table())
    ops.gelu_backward(view(dx, {n}), view(w, {n}), view(x, {n}), s);
  else
    cpu::gelu_backward_ref(dx.data(), w.data(), x.data(), n);
  EXPECT_LT(grad_check(tag("gelu.inp"), x, loss, dx), kGradTol);
}

TEST_P(GradCheck, SoftmaxXent) {
  // V = 7 columns of which Vr = 5 are real; row 2 is ignored (target -1).
  const int64_t N = 4, V = 7, Vr = 5;
  const double dloss = 0.375;  // exact in fp32; the op scales every row by one dloss: L = dloss * sum(losses)
  std::vector<double> logits = randn(N * V, 61, 2.0), losses = zeros(N);
  std::vector<int32_t> targets = {3, 0, -1, 4};
  auto loss = [&] {
    if (by_table())
      ops.softmax_xent(view(losses, {N}), Tensor{}, view(logits, {N, V}), view(targets, {N}), int(Vr), float(dloss),
                       s);
    else
      cpu::softmax_xent_ref(losses.data(), static_cast<double*>(nullptr), logits.data(), targets.data(), N, V, Vr,
                            dloss);
    double L = 0;
    for (double l : losses) L += dloss * l;
    return L;
  };
  std::vector<double> dlogits = zeros(N * V);
  if (by_table())
    ops.softmax_xent(view(losses, {N}), view(dlogits, {N, V}), view(logits, {N, V}), view(targets, {N}), int(Vr),
                     float(dloss), s);
  else
    cpu::softmax_xent_ref(losses.data(), dlogits.data(), logits.data(), targets.data(), N, V, Vr, dloss);
  EXPECT_LT(grad_check(tag("softmax_xent.logits"), logits, loss, dlogits), kGradTol);
  for (int64_t c = 0; c < V; ++c) EXPECT_EQ(dlogits[size_t(2 * V + c)], 0.0) << "ignored row, column " << c;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = Vr; c < V; ++c) EXPECT_EQ(dlogits[size_t(n * V + c)], 0.0) << "padded column " << c;
}

INSTANTIATE_TEST_SUITE_P(CpuDouble, GradCheck, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "OpsTableF64" : "Reference");
                         });

}  // namespace
}  // namespace kernels::test
