// kernels/cpu/elementwise.h
// Elementwise ops: residual add, dtype cast, zero. The math is templated on the element types.
// Called by elementwise.cpp (Ops entry points), adamw.cpp (refreshing the compute copy) and tests.
// Not here: reductions (reduce.h).
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/cpu/dispatch.h"
#include "kernels/dtype.h"
#include "kernels/tensor.h"

namespace kernels::cpu {

// out = a + b over n elements (out may alias a or b).
template <class Real>
void residual_forward_ref(Real* out, const Real* a, const Real* b, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

// One element from Src to Dst with a single round-to-nearest-even. Src, Dst in
// {float, double, bf16, fp16}. Widening is exact; double -> bf16/fp16 goes through a
// round-to-odd float so it is not rounded twice.
template <class Dst, class Src>
inline Dst convert_scalar(Src x) {
  if constexpr (std::is_same_v<Src, double>) {
    if constexpr (std::is_same_v<Dst, double>) return x;
    else if constexpr (std::is_same_v<Dst, float>) return static_cast<float>(x);
    else return Dst(double_to_float_round_odd(x));
  } else {
    const float f = static_cast<float>(x);  // exact for bf16, fp16, float
    if constexpr (std::is_same_v<Dst, double>) return static_cast<double>(f);
    else if constexpr (std::is_same_v<Dst, float>) return f;
    else return Dst(f);
  }
}

template <class Dst, class Src>
void cast_ref(Dst* dst, const Src* src, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) dst[i] = convert_scalar<Dst>(src[i]);
}

// Calls fn with a value of the C++ type that stores float dtype d (float, double, bf16, fp16).
template <class Fn>
void visit_float_dtype(const char* op, const char* name, DType d, Fn&& fn) {
  switch (d) {
    case DType::F32: fn(float{}); return;
    case DType::F64: fn(double{}); return;
    case DType::BF16: fn(bf16{}); return;
    case DType::F16: fn(fp16{}); return;
    default: KILN_CHECK(false, op_msg(op, std::string(name) + " must be a float tensor, got " + dtype_name(d)));
  }
}

// Ops entry points (elementwise.cpp).
void residual_forward(Tensor out, Tensor a, Tensor b, Stream s);
void cast(Tensor dst, Tensor src, Stream s);
void zero(Tensor x, Stream s);

}  // namespace kernels::cpu
