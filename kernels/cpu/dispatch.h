// kernels/cpu/dispatch.h
// How a CPU op entry point (Tensors in) reaches its templated reference kernel (raw pointers in).
//
// Called by every kernels/cpu/*.cpp entry point. The rule for the float tensors of one call:
//  - all fp64                 -> the double kernel runs on the tensors as they are (grad checks);
//  - fp32 / bf16 / fp16 mixed -> the float kernel runs; each bf16/fp16 tensor is swapped for an fp32
//    temporary (filled first if the kernel reads it) and written back with round-to-nearest-even
//    afterwards if the kernel writes it. That is "bf16 compute emulated on the CPU": fp32
//    arithmetic, low-precision storage. fp32 tensors (e.g. parameter grads) are used in place.
//  - fp64 mixed with anything else is an error.
// Statistic tensors (mean, rstd, lse, losses) must be exactly the compute dtype (fp32, or fp64 in
// the all-fp64 case). The backend-neutral checks (presence, device, shapes, counts) are each op's
// check_<op>() in kernels/op_checks.h, shared with the CUDA backend.
// Aliasing (softmax_xent's dlogits == logits) works: each argument gets its own temporary and
// only written arguments are copied back. Not here: any math.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/check.h"
#include "kernels/dtype.h"
#include "kernels/op_checks.h"
#include "kernels/tensor.h"

namespace kernels::cpu {

// How the kernel touches a float tensor: decides which copies a bf16/fp16 argument needs.
enum class Access : uint8_t { kRead, kWrite, kReadWrite };

struct FloatArg {
  Tensor* t;            // swapped in place for an fp32 view while the kernel runs
  Access access;
  const char* name;     // for messages: "dweight"
  bool stat = false;    // statistic or loss: no bf16/fp16, exactly the compute dtype
};

// ---- checks ------------------------------------------------------------------------------------

// Each op's argument checks are kernels/op_checks.h's check_<op>(kDevice, ...), shared with the CUDA
// backend. What this backend adds: its dtype rules (dispatch_float below) and data checks.
constexpr Device kDevice = Device::kCpu;

inline void check_cpu(const char* op, const char* name, const Tensor& t) { check_device(op, name, t, kDevice); }

// ---- conversions between an fp32 temporary and bf16/fp16 storage ------------------------------

inline void widen_to_f32(float* dst, const Tensor& src) {
  const int64_t n = src.numel();
  if (src.dtype == DType::BF16) {
    const bf16* s = static_cast<const bf16*>(src.data);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) dst[i] = float(s[i]);
  } else {
    const fp16* s = static_cast<const fp16*>(src.data);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) dst[i] = float(s[i]);
  }
}

inline void narrow_from_f32(const Tensor& dst, const float* src) {  // round to nearest even
  const int64_t n = dst.numel();
  if (dst.dtype == DType::BF16) {
    bf16* d = static_cast<bf16*>(dst.data);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) d[i] = bf16(src[i]);
  } else {
    fp16* d = static_cast<fp16*>(dst.data);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) d[i] = fp16(src[i]);
  }
}

// Runs fn(double{}) or fn(float{}) after the swaps described at the top. fn reads the tensors
// through references it captured, so it sees the swapped fp32 views. Empty tensors (optional
// arguments) are skipped.
template <class Fn>
void dispatch_float(const char* op, std::initializer_list<FloatArg> args, Fn&& fn) {
  int n_f64 = 0, n_other = 0;
  for (const FloatArg& a : args) {
    if (a.t->empty()) continue;
    check_cpu(op, a.name, *a.t);
    KILN_CHECK(dtype_is_float(a.t->dtype),
               op_msg(op, std::string(a.name) + " must be a float tensor, got " + dtype_name(a.t->dtype)));
    (a.t->dtype == DType::F64 ? n_f64 : n_other) += 1;
  }
  if (n_f64 > 0) {
    KILN_CHECK(n_other == 0, op_msg(op, "fp64 tensors cannot be mixed with fp32/bf16/fp16 ones (" +
                                            std::to_string(n_f64) + " fp64, " + std::to_string(n_other) + " other)"));
    fn(double{});
    return;
  }

  struct Swap {
    Tensor* slot;
    Tensor original;
    std::vector<float> tmp;
    bool write_back;
  };
  std::vector<Swap> swaps;
  swaps.reserve(args.size());
  for (const FloatArg& a : args) {
    if (a.t->empty()) continue;
    if (a.stat) {
      KILN_CHECK(a.t->dtype == DType::F32,
                 op_msg(op, std::string(a.name) + " (a statistic/loss) must be fp32, got " + dtype_name(a.t->dtype)));
      continue;
    }
    if (a.t->dtype == DType::F32) continue;
    Swap& s = swaps.emplace_back(Swap{a.t, *a.t, std::vector<float>(size_t(a.t->numel())),
                                      a.access != Access::kRead});
    if (a.access != Access::kWrite) widen_to_f32(s.tmp.data(), s.original);
    a.t->data = s.tmp.data();
    a.t->dtype = DType::F32;
  }
  fn(float{});
  for (Swap& s : swaps) {
    if (s.write_back) narrow_from_f32(s.original, s.tmp.data());
    *s.slot = s.original;
  }
}

// ---- double -> bf16/fp16 without double rounding ----------------------------------------------

// double -> float with round-to-odd: truncate toward zero and set the lowest bit if inexact.
// float keeps > 2 more bits than bf16/fp16 everywhere, so a following RNE to bf16/fp16 gives the
// correctly rounded result (plain double->float->bf16 can create a false tie).
inline float double_to_float_round_odd(double d) {
  float f = static_cast<float>(d);
  if (!std::isfinite(f) || static_cast<double>(f) == d) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  return bits_float(float_bits(f) | 1u);
}

}  // namespace kernels::cpu
