// tests/kernels/kernel_test_util.h
// Helpers shared by the CPU kernel tests: deterministic random data, Tensor views over
// std::vectors (no Buffer needed), norm-based relative error, and the central-difference
// gradient checker. Header-only; used only by the test_kernels binary.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/ops_cpu.h"
#include "kernels/dtype.h"
#include "kernels/rng.h"
#include "kernels/tensor.h"

namespace kernels::test {

inline const Ops& cpu_ops() { return cpu::kOps; }

// n standard normals * scale + shift, element i a pure function of (seed, i) (rng.h).
inline std::vector<double> randn(int64_t n, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  const uint64_t key = mix(seed, Purpose::kTest);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = shift + scale * normal(key, uint64_t(i));
  return v;
}

inline std::vector<double> zeros(int64_t n) { return std::vector<double>(static_cast<size_t>(n), 0.0); }

// Element-type conversion of a whole vector (double -> float rounds to nearest).
template <class To, class From>
std::vector<To> convert(const std::vector<From>& v) {
  std::vector<To> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<To>(v[i]);
  return out;
}

// Low precision copies (round to nearest even) and back.
template <class Low>
std::vector<Low> to_low(const std::vector<float>& v) {
  std::vector<Low> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = Low(v[i]);
  return out;
}
template <class Low>
std::vector<float> from_low(const std::vector<Low>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

// A non-owning Tensor over a vector; the vector must outlive it and keep its size.
template <class E>
Tensor view(std::vector<E>& v, Shape s) {
  EXPECT_EQ(int64_t(v.size()), s.numel()) << "test bug: view " << s.str() << " over " << v.size() << " elements";
  Tensor t;
  t.data = v.data();
  t.dtype = dtype_of<E>();
  t.shape = s;
  return t;
}

// A tensor of any float dtype made from double values, read back as double: lets one test body
// run an op in fp64, fp32, bf16 or fp16. Only the vector matching `dtype` is used.
struct TypedTensor {
  DType dtype;
  Shape shape;
  std::vector<double> f64;
  std::vector<float> f32;
  std::vector<bf16> b16;
  std::vector<fp16> h16;

  TypedTensor(DType dt, Shape s, const std::vector<double>& values = {}) : dtype(dt), shape(s) {
    const size_t n = size_t(s.numel());
    switch (dt) {
      case DType::F64: f64.assign(n, 0.0); break;
      case DType::F32: f32.assign(n, 0.f); break;
      case DType::BF16: b16.assign(n, bf16(0.f)); break;
      case DType::F16: h16.assign(n, fp16(0.f)); break;
      default: ADD_FAILURE() << "TypedTensor: not a float dtype";
    }
    if (!values.empty()) set(values);
  }
  // Rounds through float for the 16-bit types (the way the model would have produced them).
  void set(const std::vector<double>& v) {
    EXPECT_EQ(int64_t(v.size()), shape.numel());
    for (size_t i = 0; i < v.size(); ++i) {
      if (dtype == DType::F64) f64[i] = v[i];
      if (dtype == DType::F32) f32[i] = float(v[i]);
      if (dtype == DType::BF16) b16[i] = bf16(float(v[i]));
      if (dtype == DType::F16) h16[i] = fp16(float(v[i]));
    }
  }
  std::vector<double> get() const {
    std::vector<double> v(size_t(shape.numel()));
    for (size_t i = 0; i < v.size(); ++i) {
      if (dtype == DType::F64) v[i] = f64[i];
      if (dtype == DType::F32) v[i] = f32[i];
      if (dtype == DType::BF16) v[i] = float(b16[i]);
      if (dtype == DType::F16) v[i] = float(h16[i]);
    }
    return v;
  }
  Tensor t() {
    Tensor x;
    x.dtype = dtype;
    x.shape = shape;
    if (dtype == DType::F64) x.data = f64.data();
    if (dtype == DType::F32) x.data = f32.data();
    if (dtype == DType::BF16) x.data = b16.data();
    if (dtype == DType::F16) x.data = h16.data();
    return x;
  }
};

// Values as the given dtype would store them (double -> float -> bf16/fp16), back in double.
inline std::vector<double> rounded_to(DType dt, const std::vector<double>& v) { return TypedTensor(dt, {int64_t(v.size())}, v).get(); }

// ||a - b|| / max(||a||, ||b||), 0 when both are zero. The norm form keeps tiny elements (whose
// own relative error is meaningless) from dominating.
template <class A, class B>
double rel_err(const std::vector<A>& a, const std::vector<B>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double x = double(a[i]), y = double(b[i]);
    diff += (x - y) * (x - y);
    na += x * x;
    nb += y * y;
  }
  const double denom = std::sqrt(std::max(na, nb));
  return denom == 0 ? 0.0 : std::sqrt(diff) / denom;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of loss() with respect to every element of x (perturbed in place and
// restored), compared with `analytic`. Returns the norm-based relative error and prints it,
// so the report can quote measured numbers.
inline double grad_check(const std::string& what, std::vector<double>& x, const std::function<double()>& loss,
                         const std::vector<double>& analytic, double h = 1e-6) {
  std::vector<double> numeric(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double lp = loss();
    x[i] = saved - h;
    const double lm = loss();
    x[i] = saved;
    numeric[i] = (lp - lm) / (2 * h);
  }
  const double err = rel_err(analytic, numeric);
  std::printf("[gradcheck] %-40s rel_err %.3e  (|grad| %.3e, %zu elements)\n", what.c_str(), err,
              std::sqrt(dot(numeric, numeric)), x.size());
  return err;
}

constexpr double kGradTol = 1e-6;  // FD vs analytic in double, h = 1e-6 (brief's tolerance)

}  // namespace kernels::test
