// kernels/cpu/reduce.cpp
// Ops entry point for sum_squares: out[0] += sum(x^2), x of any float dtype, out fp32 (or fp64).
// Called through kernels::cpu::kOps by the optimizer's gradient-norm pass. Not here: the math.
#include "kernels/cpu/reduce.h"

#include "kernels/cpu/elementwise.h"

namespace kernels::cpu {

void sum_squares(Tensor out, Tensor x, Stream) {
  const char* op = "sum_squares";
  check_sum_squares(kDevice, out, x);
  KILN_CHECK(out.dtype == DType::F32 || out.dtype == DType::F64,
             op_msg(op, std::string("out must be fp32 or fp64, got ") + dtype_name(out.dtype)));
  double total = 0;
  visit_float_dtype(op, "x", x.dtype, [&](auto tag) {
    using S = decltype(tag);
    total = sum_squares_ref<S>(static_cast<const S*>(x.data), x.numel());
  });
  // Add in double, round once into out.
  if (out.dtype == DType::F64) *out.as<double>() += total;
  else *out.as<float>() = static_cast<float>(double(*out.as<float>()) + total);
}

}  // namespace kernels::cpu
