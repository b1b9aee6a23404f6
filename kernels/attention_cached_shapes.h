// kernels/attention_cached_shapes.h
// The argument checks of attention_cached_forward (ops.h), shared by the CPU and CUDA entry points
// so both refuse the same calls with the same words. Returns C (channels).
#pragma once

#include <string>

#include "kernels/op_checks.h"

namespace kernels {

inline int64_t check_attention_cached_shapes(const char* op, const Tensor& out, const Tensor& qkv, const Tensor& k_cache,
                                             const Tensor& v_cache, int pos0, int n_head) {
  const std::string o = std::string(op) + ": ";
  KILN_CHECK(qkv.shape.ndim == 2 && qkv.dim(1) % 3 == 0, o + "qkv must be (n, 3C), got " + qkv.shape.str());
  const int64_t n = qkv.dim(0), C = qkv.dim(1) / 3;
  KILN_CHECK(n_head > 0 && C % n_head == 0,
             o + "C=" + std::to_string(C) + " is not divisible by n_head=" + std::to_string(n_head));
  KILN_CHECK(k_cache.shape.ndim == 2 && k_cache.dim(1) == C,
             o + "k_cache must be (maxT, " + std::to_string(C) + "), got " + k_cache.shape.str());
  check_shape(op, "v_cache", v_cache, k_cache.shape);
  check_shape(op, "out", out, {n, C});
  KILN_CHECK(pos0 >= 0 && pos0 + n <= k_cache.dim(0), o + "positions " + std::to_string(pos0) + ".." +
                                                          std::to_string(pos0 + n - 1) + " do not fit the cache of " +
                                                          std::to_string(k_cache.dim(0)));
  return C;
}

}  // namespace kernels
