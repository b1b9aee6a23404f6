// kernels/cpu/simd/elementwise_impl.h
// Vectorised fp32 elementwise kernels of one SIMD level: exp, GELU and SwiGLU forward/backward,
// AdamW, sum of squares. Included once by each kernels/cpu/simd/isa_*.cpp (vec.h explains the arrangement);
// each function computes what its reference in kernels/cpu/*.h computes, in fp32.
// Not here: checks or dtype handling (the op entry points), fp64 (the references).
#pragma once

#include "kernels/cpu/simd/exp.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu::simd::KILN_SIMD_NS {

// Parallel loops over elements only when there is enough work to pay for waking the threads.
constexpr int64_t kParallelElements = 1 << 15;

// y = body(x) over [begin, end): four vectors per step (exp and friends are long chains of
// dependent instructions; four independent chains side by side keep the FMA units busy), then
// single vectors, then one partial vector padded with `fill` (a harmless input for the body).
// Each element depends only on its own input, so the split between threads never changes a number.
template <class Body>
static inline void map_range(float* y, const float* x, int64_t begin, int64_t end, float fill, Body body) {
  int64_t i = begin;
  for (; i + 4 * kW <= end; i += 4 * kW) {
    const vf y0 = body(load(x + i)), y1 = body(load(x + i + kW));
    const vf y2 = body(load(x + i + 2 * kW)), y3 = body(load(x + i + 3 * kW));
    store(y + i, y0);
    store(y + i + kW, y1);
    store(y + i + 2 * kW, y2);
    store(y + i + 3 * kW, y3);
  }
  for (; i + kW <= end; i += kW) store(y + i, body(load(x + i)));
  if (i < end) store_part(y + i, body(load_part(x + i, end - i, fill)), end - i);
}

template <class Body>
static inline void map_unary(float* y, const float* x, int64_t n, float fill, Body body) {
  parallel_ranges(n, kW, n > kParallelElements,
                  [=](int64_t begin, int64_t end) { map_range(y, x, begin, end, fill, body); });
}

static void exp_n(float* y, const float* x, int64_t n) {
  map_unary(y, x, n, 0.f, [](vf v) { return vexp(v); });
}

// GELU, tanh form, through the identity 0.5 (1 + tanh u) = 1 / (1 + e^(-2u)) = s:
//   gelu(x) = x s,  u = sqrt(2/pi) (x + 0.044715 x^3)
// One vectorised exp and a division, no cancellation at either tail (x -> -inf: e^(-2u) -> inf,
// s -> 0, gelu -> -0 as the reference's 0.5 x (1 + tanh u) does).
// Error bound against fp64 (table.h kGeluMaxErrorPerX; test_simd.cpp sweeps x in [-12, 12] and
// beyond): |gelu - gelu64| <= 4e-7 |x| + 1e-37, measured 1.3e-7 |x|. The |x| scale is the fp32
// reference's too: u itself is rounded in fp32, which moves s by up to ~1e-7 absolute.
constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluC = 0.044715f;

static inline vf gelu_s(vf x, vf* e_out) {
  const vf x2 = x * x;
  const vf minus_2u = x * (splat(-2.0f * kGeluK) + splat(-2.0f * kGeluK * kGeluC) * x2);
  const vf e = vexp(minus_2u);
  *e_out = e;
  return splat(1.0f) / (splat(1.0f) + e);
}

static void gelu_forward(float* out, const float* inp, int64_t n) {
  map_unary(out, inp, n, 0.f, [](vf x) {
    vf e;
    return x * gelu_s(x, &e);
  });
}

// gelu'(x) = 0.5 (1 + tanh u) + 0.5 x sech^2(u) du/dx with 0.5 (1 + tanh u) = s and
// sech^2(u) = 4 s (1 - s):   gelu' = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
// 1 - s is taken as e s (= e / (1 + e)) while e <= 1 and as 1 - s beyond, so neither form cancels
// and e = inf (x very negative) gives 1 - s = 1, not inf * 0.
// Error bound against fp64 (table.h kGeluGradMaxErrorPerX): |dinp - dout gelu'64| <=
// 4e-7 (1 + |x|) |dout| + 1e-37.
static inline vf gelu_grad(vf x, vf d) {
  vf e;
  const vf s = gelu_s(x, &e);
  const vf one_minus_s = e > splat(1.0f) ? splat(1.0f) - s : e * s;
  const vf du = splat(2.0f * kGeluK) * (splat(1.0f) + splat(3.0f * kGeluC) * (x * x));
  return d * (s + x * s * one_minus_s * du);
}

static void gelu_backward_range(float* dinp, const float* dout, const float* inp, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 2 * kW <= end; i += 2 * kW) {
    const vf g0 = gelu_grad(load(inp + i), load(dout + i)), g1 = gelu_grad(load(inp + i + kW), load(dout + i + kW));
    store(dinp + i, g0);
    store(dinp + i + kW, g1);
  }
  for (; i + kW <= end; i += kW) store(dinp + i, gelu_grad(load(inp + i), load(dout + i)));
  if (i < end)
    store_part(dinp + i, gelu_grad(load_part(inp + i, end - i, 0.f), load_part(dout + i, end - i, 0.f)), end - i);
}

static void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  parallel_ranges(n, kW, n > kParallelElements,
                  [=](int64_t begin, int64_t end) { gelu_backward_range(dinp, dout, inp, begin, end); });
}

// SwiGLU (kernels/cpu/swiglu.h): per row of inp (N,2F) = [gate | up],
//   out = g s u,  s = sigmoid(g) = 1 / (1 + e),  e = e^(-g)
//   dgate = dout u s (1 + g (1 - s)),  dup = dout g s
// with the vectorised exp. 1 - s is taken as e s (= e / (1 + e)) while e <= 1 (g >= 0, where 1 - s
// would cancel) and as 1 - s beyond, as in GELU. Tails: g -> -inf gives e = inf, s = 0 (the
// reference's 1 / (1 + inf)); g -> +inf gives e = 0, s = 1.
// Error bounds against fp64 (table.h kSwigluMaxRelError, kSwigluGradMaxRelError; test_simd.cpp
// sweeps g in [-100, 100] at every level): s within ~2^-22 + 3 roundings relative (exp's bound,
// 1 + e, the division), so out within 1e-6 |out64|; dup within 1e-6 |dout g s64|; dgate within
// 1e-6 |dout u| s64 (1 + |g| (1 - s64)), the size of its terms (1 + g (1 - s) cancels near
// g = -1.28, where silu' = 0). Where s64 is below float's normal range (g < -87) add 1e-37 of
// |dout g|, |dout u| (1 + |g|) (s flushes to 0 or a subnormal).
static inline vf swiglu_sigmoid(vf g, vf* e_out) {
  const vf e = vexp(-g);
  *e_out = e;
  return splat(1.0f) / (splat(1.0f) + e);
}

static void swiglu_forward_rows(float* out, const float* inp, int64_t r0, int64_t r1, int64_t F) {
  const auto body = [](vf g, vf u) {
    vf e;
    return g * swiglu_sigmoid(g, &e) * u;
  };
  for (int64_t r = r0; r < r1; ++r) {
    const float* gate = inp + r * 2 * F;
    const float* up = gate + F;
    float* o = out + r * F;
    int64_t f = 0;
    for (; f + 2 * kW <= F; f += 2 * kW) {
      const vf y0 = body(load(gate + f), load(up + f)), y1 = body(load(gate + f + kW), load(up + f + kW));
      store(o + f, y0);
      store(o + f + kW, y1);
    }
    for (; f + kW <= F; f += kW) store(o + f, body(load(gate + f), load(up + f)));
    if (f < F) store_part(o + f, body(load_part(gate + f, F - f, 0.f), load_part(up + f, F - f, 0.f)), F - f);
  }
}

static void swiglu_forward(float* out, const float* inp, int64_t N, int64_t F) {
  parallel_ranges(N, 1, N * F > kParallelElements,
                  [=](int64_t r0, int64_t r1) { swiglu_forward_rows(out, inp, r0, r1, F); });
}

// dinp may alias inp: each vector of gate and up is loaded before its gradients are stored.
static void swiglu_backward_rows(float* dinp, const float* dout, const float* inp, int64_t r0, int64_t r1, int64_t F) {
  const auto step = [](vf g, vf u, vf d, vf* dgate) {
    vf e;
    const vf s = swiglu_sigmoid(g, &e);
    const vf one_minus_s = e > splat(1.0f) ? splat(1.0f) - s : e * s;
    *dgate = d * u * s * (splat(1.0f) + g * one_minus_s);
    return d * g * s;  // dup
  };
  for (int64_t r = r0; r < r1; ++r) {
    const float* gate = inp + r * 2 * F;
    const float* up = gate + F;
    const float* d = dout + r * F;
    float* dg = dinp + r * 2 * F;
    float* du = dg + F;
    int64_t f = 0;
    for (; f + kW <= F; f += kW) {
      vf dgate;
      const vf dup = step(load(gate + f), load(up + f), load(d + f), &dgate);
      store(dg + f, dgate);
      store(du + f, dup);
    }
    if (f < F) {
      const int64_t k = F - f;
      vf dgate;
      const vf dup = step(load_part(gate + f, k, 0.f), load_part(up + f, k, 0.f), load_part(d + f, k, 0.f), &dgate);
      store_part(dg + f, dgate, k);
      store_part(du + f, dup, k);
    }
  }
}

static void swiglu_backward(float* dinp, const float* dout, const float* inp, int64_t N, int64_t F) {
  parallel_ranges(N, 1, N * F > kParallelElements,
                  [=](int64_t r0, int64_t r1) { swiglu_backward_rows(dinp, dout, inp, r0, r1, F); });
}

// AdamW, per element in adamw_update_ref's order (kernels/cpu/adamw.h):
//   g = grad * grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//   param -= lr * ((m / bc1) / (sqrt(v / bc2) + eps) + wd * param)
// Only the fused multiply-adds (AVX2, AVX-512) round differently from the fp32 reference; one step
// is within 3e-7 of fp64 relative to the size of each result's terms (table.h kAdamWMaxRelError).
static void adamw_range(float* param, const float* grad, float* m, float* v, int64_t begin, int64_t end,
                        AdamWScalars a) {
  const vf gs = splat(a.grad_scale), b1 = splat(a.beta1), b2 = splat(a.beta2);
  const vf one_b1 = splat(1.0f - a.beta1), one_b2 = splat(1.0f - a.beta2);
  const vf bc1 = splat(a.bias_correction1), bc2 = splat(a.bias_correction2);
  const vf lr = splat(a.lr), eps = splat(a.eps), wd = splat(a.weight_decay);
  const auto step = [&](vf p, vf g, vf* mv, vf* vv) {
    g = g * gs;
    *mv = b1 * *mv + one_b1 * g;
    *vv = b2 * *vv + one_b2 * g * g;
    const vf mhat = *mv / bc1;
    const vf vhat = *vv / bc2;
    return p - lr * (mhat / (vsqrt(vhat) + eps) + wd * p);
  };
  int64_t i = begin;
  for (; i + kW <= end; i += kW) {
    vf mv = load(m + i), vv = load(v + i);
    store(param + i, step(load(param + i), load(grad + i), &mv, &vv));
    store(m + i, mv);
    store(v + i, vv);
  }
  if (i < end) {
    const int64_t k = end - i;
    vf mv = load_part(m + i, k, 0.f), vv = load_part(v + i, k, 0.f);
    store_part(param + i, step(load_part(param + i, k, 0.f), load_part(grad + i, k, 0.f), &mv, &vv), k);
    store_part(m + i, mv, k);
    store_part(v + i, vv, k);
  }
}

static void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamWScalars& a) {
  const AdamWScalars s = a;
  parallel_ranges(n, kW, n > kParallelElements,
                  [=](int64_t begin, int64_t end) { adamw_range(param, grad, m, v, begin, end, s); });
}

// Sum of x^2 in fp64, in fixed blocks of kSumSquaresBlock elements summed in parallel and then in
// block order, as sum_squares_ref; inside a block, kW fp64 lanes then the fixed hsum order. The
// fp64 sums of fp32 squares are exact to ~1e-16 relative, so every level agrees with the reference
// to ~1e-15 (not bit for bit: the reference adds in plain element order).
static double sum_squares_block(const float* x, int64_t begin, int64_t end) {
  const int64_t full = begin + (end - begin) / kW * kW;
  vdh lo = vdh{}, hi = vdh{};
  for (int64_t i = begin; i < full; i += kW) add_squares_f64(lo, hi, load(x + i));
  if (full < end) add_squares_f64(lo, hi, load_part(x + full, end - full, 0.f));
  return hsum(lo, hi);
}

static double sum_squares(const float* x, int64_t n) {
  const int64_t n_blocks = (n + kSumSquaresBlock - 1) / kSumSquaresBlock;
  constexpr int kStackBlocks = 256;  // up to 4M elements without a heap allocation
  double stack[kStackBlocks];
  double* partial = n_blocks <= kStackBlocks ? stack : new double[size_t(n_blocks)];
  parallel_ranges(n_blocks, 1, n_blocks > 1, [=](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk)
      partial[blk] = sum_squares_block(x, blk * kSumSquaresBlock, min_i64(n, (blk + 1) * kSumSquaresBlock));
  });
  double total = 0;
  for (int64_t blk = 0; blk < n_blocks; ++blk) total += partial[blk];
  if (partial != stack) delete[] partial;
  return total;
}

}  // namespace kernels::cpu::simd::KILN_SIMD_NS
