// kernels/op_checks.h
// Argument checks that read the same on every backend: the CPU entry points (cpu/dispatch.h) and
// the CUDA ones (cuda/common.cuh) use these, so a bad call gets the same message wherever it runs.
// What differs per backend (which device a tensor must be on, which dtypes it accepts) stays in
// those two headers. Plain C++: included by .cpp and .cu files alike.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/check.h"
#include "kernels/tensor.h"

namespace kernels {

inline std::string op_msg(const char* op, const std::string& what) { return std::string(op) + ": " + what; }

struct NamedTensor {
  const char* name;
  const Tensor* t;
};

inline void check_shape(const char* op, const char* name, const Tensor& t, Shape want) {
  KILN_CHECK(t.shape == want, op_msg(op, std::string(name) + " has shape " + t.shape.str() + ", expected " + want.str()));
}

inline void check_numel(const char* op, const char* name, const Tensor& t, int64_t want) {
  KILN_CHECK(t.numel() == want, op_msg(op, std::string(name) + " has " + std::to_string(t.numel()) + " elements " +
                                               t.shape.str() + ", expected " + std::to_string(want)));
}

// Last dimension of a tensor (the channel count of an (N, C) or (B, T, C) activation).
inline int64_t last_dim(const Tensor& t) { return t.shape.ndim ? t.shape[t.shape.ndim - 1] : 0; }

// An output that may be computed in place: it either is `in` exactly or does not overlap it (a
// partial overlap would let one row's writes clobber another row's reads).
inline void check_alias_or_disjoint(const char* op, const char* out_name, const Tensor& out, const char* in_name,
                                    const Tensor& in) {
  const char *o = static_cast<const char*>(out.data), *i = static_cast<const char*>(in.data);
  KILN_CHECK(o == i || o + out.nbytes() <= i || i + in.nbytes() <= o,
             op_msg(op, std::string(out_name) + " must either alias " + in_name + " exactly or not overlap it"));
}

}  // namespace kernels
