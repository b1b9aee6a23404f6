// kernels/cpu/simd/rows_impl.h
// Vectorised fp32 row kernels of one SIMD level: LayerNorm forward/backward, fused softmax +
// cross-entropy, and the row steps of blocked attention. Included once by each
// kernels/cpu/simd/isa_*.cpp after elementwise_impl.h (vec.h explains the arrangement).
// Row sums use kW lane accumulators then hsum's fixed order: deterministic, and independent of
// how rows are split between threads. Not here: checks, dtypes, fp64 (the references).
#pragma once

#include "kernels/cpu/simd/exp.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu::simd::KILN_SIMD_NS {

constexpr int64_t kParallelRowElements = 1 << 15;  // rows * columns below this: one thread

// ---- reductions over one row ------------------------------------------------------------------

static inline float row_sum(const float* x, int64_t n) {
  const int64_t full = n / kW * kW;
  vf acc = vf{};
  for (int64_t i = 0; i < full; i += kW) acc += load(x + i);
  if (full < n) acc += load_part(x + full, n - full, 0.f);
  return hsum(acc);
}

static inline float row_max(const float* x, int64_t n) {
  const int64_t full = n / kW * kW;
  vf acc = splat(-__builtin_inff());
  for (int64_t i = 0; i < full; i += kW) acc = vmax(acc, load(x + i));
  if (full < n) acc = vmax(acc, load_part(x + full, n - full, -__builtin_inff()));
  return hmax(acc);
}

static inline float dot(const float* a, const float* b, int64_t n) {
  const int64_t full = n / kW * kW;
  vf acc = vf{};
  for (int64_t i = 0; i < full; i += kW) acc += load(a + i) * load(b + i);
  if (full < n) acc += load_part(a + full, n - full, 0.f) * load_part(b + full, n - full, 0.f);
  return hsum(acc);
}

// y[i] = exp(x[i] scale - shift) over n (y may be x); returns the sum of the y (lanes, then hsum).
static inline float row_exp_sum(float* y, const float* x, int64_t n, float scale, float shift) {
  const int64_t full = n / kW * kW;
  const vf a = splat(scale), s = splat(shift);
  vf acc = vf{};
  for (int64_t i = 0; i < full; i += kW) {
    const vf e = vexp(load(x + i) * a - s);
    store(y + i, e);
    acc += e;
  }
  if (full < n) {
    const vf e = vexp(load_part(x + full, n - full, -__builtin_inff()) * a - s);  // padded lanes: exp(-inf) = 0
    store_part(y + full, e, n - full);
    acc += e;
  }
  return hsum(acc);
}

static inline void row_scale(float* y, int64_t n, float a) {
  const int64_t full = n / kW * kW;
  for (int64_t i = 0; i < full; i += kW) store(y + i, load(y + i) * splat(a));
  if (full < n) store_part(y + full, load_part(y + full, n - full, 0.f) * splat(a), n - full);
}

static inline void row_zero(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.f;
}

// ---- LayerNorm (kernels/cpu/layernorm.h) ------------------------------------------------------

// Two-pass mean and variance as the reference; rstd = 1 / sqrt(var + 1e-5).
// Error against fp64 (table.h kLayernormMaxError, kLayernormGradMaxRelError: fp32 sums of C terms;
// test_simd.cpp: C up to 768, rows offset by 100 to stress the two-pass variance).
static void layernorm_forward_rows(float* out, float* mean, float* rstd, const float* x, const float* weight,
                                   const float* bias, int64_t C, int64_t row0, int64_t row1) {
  const int64_t full = C / kW * kW;
  for (int64_t n = row0; n < row1; ++n) {
    const float* xr = x + n * C;
    const float m = row_sum(xr, C) / float(C);
    const vf mv = splat(m);
    vf acc = vf{};
    for (int64_t c = 0; c < full; c += kW) {
      const vf d = load(xr + c) - mv;
      acc += d * d;
    }
    if (full < C) {
      const vf d = load_part(xr + full, C - full, m) - mv;  // padded lanes: m - m = 0
      acc += d * d;
    }
    const float r = 1.0f / __builtin_sqrtf(hsum(acc) / float(C) + 1e-5f);
    const vf rv = splat(r);
    float* o = out + n * C;
    for (int64_t c = 0; c < full; c += kW) store(o + c, (load(xr + c) - mv) * rv * load(weight + c) + load(bias + c));
    for (int64_t c = full; c < C; ++c) o[c] = (xr[c] - m) * r * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = r;
  }
}

static void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                              const float* bias, int64_t N, int64_t C) {
  parallel_ranges(N, 1, N * C > kParallelRowElements, [=](int64_t row0, int64_t row1) {
    layernorm_forward_rows(out, mean, rstd, x, weight, bias, C, row0, row1);
  });
}

static void layernorm_backward_rows(float* dx, const float* dout, const float* x, const float* weight,
                                    const float* mean, const float* rstd, int64_t C, int64_t row0, int64_t row1) {
  const int64_t full = C / kW * kW;
  for (int64_t n = row0; n < row1; ++n) {
    const float* xr = x + n * C;
    const float* d = dout + n * C;
    const vf mv = splat(mean[n]), rv = splat(rstd[n]);
    vf g_acc = vf{}, gx_acc = vf{};
    for (int64_t c = 0; c < full; c += kW) {
      const vf g = load(d + c) * load(weight + c);
      g_acc += g;
      gx_acc += g * ((load(xr + c) - mv) * rv);
    }
    if (full < C) {
      const int64_t k = C - full;
      const vf g = load_part(d + full, k, 0.f) * load_part(weight + full, k, 0.f);
      g_acc += g;
      gx_acc += g * ((load_part(xr + full, k, mean[n]) - mv) * rv);
    }
    const float g_mean = hsum(g_acc) / float(C), gx_mean = hsum(gx_acc) / float(C);
    const vf gm = splat(g_mean), gxm = splat(gx_mean);
    float* dxr = dx + n * C;
    for (int64_t c = 0; c < full; c += kW) {
      const vf xhat = (load(xr + c) - mv) * rv;
      store(dxr + c, load(dxr + c) + rv * (load(d + c) * load(weight + c) - gm - xhat * gxm));
    }
    for (int64_t c = full; c < C; ++c) {
      const float xhat = (xr[c] - mean[n]) * rstd[n];
      dxr[c] += rstd[n] * (d[c] * weight[c] - g_mean - xhat * gx_mean);
    }
  }
}

// dweight, dbias (+=) for channels [c0, c1), every row in order.
static void layernorm_param_grads(float* dweight, float* dbias, const float* dout, const float* x, const float* mean,
                                  const float* rstd, int64_t N, int64_t C, int64_t c0, int64_t c1) {
  const int64_t vec_end = c0 + (c1 - c0) / kW * kW;
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * C;
    const float* d = dout + n * C;
    const vf mv = splat(mean[n]), rv = splat(rstd[n]);
    for (int64_t c = c0; c < vec_end; c += kW) {
      const vf dv = load(d + c);
      store(dweight + c, load(dweight + c) + dv * ((load(xr + c) - mv) * rv));
      store(dbias + c, load(dbias + c) + dv);
    }
    for (int64_t c = vec_end; c < c1; ++c) {
      dweight[c] += d[c] * ((xr[c] - mean[n]) * rstd[n]);
      dbias[c] += d[c];
    }
  }
}

// dx (+=) per row: rstd * (g - mean(g) - xhat * mean(g xhat)), g = dout * weight, as the reference.
// dweight, dbias (+=) sum over rows in row order (as the reference, so any thread count gives the
// same bits): threads split the channels (in whole vectors), not the rows.
static void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                               const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C) {
  const bool parallel = N * C > kParallelRowElements;
  parallel_ranges(N, 1, parallel, [=](int64_t row0, int64_t row1) {
    layernorm_backward_rows(dx, dout, x, weight, mean, rstd, C, row0, row1);
  });
  parallel_ranges(C, kW, parallel, [=](int64_t c0, int64_t c1) {
    layernorm_param_grads(dweight, dbias, dout, x, mean, rstd, N, C, c0, c1);
  });
}

// ---- column sums (a linear layer's bias gradient) ----------------------------------------------

// out[c] += sum over rows n of x[n C + c] for columns [c0, c1), rows in order (as matmul.h's
// reference sums them, so every level and thread count gives the reference's bits).
// Four vectors of columns at a time: four independent add chains (one chain waited on the add's
// latency every row: the bias gradients took ~2% of a demo step).
static void column_sums_range(float* out, const float* x, int64_t N, int64_t C, int64_t c0, int64_t c1) {
  const int64_t vec_end = c0 + (c1 - c0) / kW * kW, wide_end = c0 + (c1 - c0) / (4 * kW) * (4 * kW);
  for (int64_t c = c0; c < wide_end; c += 4 * kW) {
    vf a0 = load(out + c), a1 = load(out + c + kW), a2 = load(out + c + 2 * kW), a3 = load(out + c + 3 * kW);
    for (const float* r = x + c; r < x + N * C + c; r += C) {
      a0 += load(r);
      a1 += load(r + kW);
      a2 += load(r + 2 * kW);
      a3 += load(r + 3 * kW);
    }
    store(out + c, a0);
    store(out + c + kW, a1);
    store(out + c + 2 * kW, a2);
    store(out + c + 3 * kW, a3);
  }
  for (int64_t c = wide_end; c < vec_end; c += kW) {
    vf acc = load(out + c);
    for (int64_t n = 0; n < N; ++n) acc += load(x + n * C + c);
    store(out + c, acc);
  }
  for (int64_t c = vec_end; c < c1; ++c) {
    float acc = out[c];
    for (int64_t n = 0; n < N; ++n) acc += x[n * C + c];
    out[c] = acc;
  }
}

static void column_sums_add(float* out, const float* x, int64_t N, int64_t C) {
  parallel_ranges(C, kW, N * C > kParallelRowElements,
                  [=](int64_t c0, int64_t c1) { column_sums_range(out, x, N, C, c0, c1); });
}

// ---- softmax + cross-entropy (kernels/cpu/softmax_xent.h) ---------------------------------------

// Per row, over the real columns [0, Vr): m = max, sum = sum exp(x - m), loss = log(sum) - (x_t - m);
// dlogits = (exp(x - m) / sum - onehot) * dloss, padding columns 0. With dlogits, the exponentials
// are stored there in the sum pass and scaled in a second pass (one exp per element, not two);
// dlogits may alias logits: the target logit is read before, and each element is read before it
// is overwritten. Error against fp64 (table.h kXentMaxError): losses within 2e-6 (1 + loss), dlogits
// within 2e-6 |dloss| (vexp's bound plus fp32 sums of V terms; test_simd.cpp, V up to 50304).
static void softmax_xent_rows(float* losses, float* dlogits, const float* logits, const int32_t* targets, int64_t V,
                              int64_t Vr, float dloss, int64_t row0, int64_t row1) {
  for (int64_t n = row0; n < row1; ++n) {
    const float* x = logits + n * V;
    float* dx = dlogits ? dlogits + n * V : nullptr;
    const int64_t target = targets[n];
    if (target < 0) {
      losses[n] = 0.f;
      if (dx) row_zero(dx, V);
      continue;
    }
    const float m = row_max(x, Vr);
    const float x_target = x[target];
    float sum;
    if (dx) {
      sum = row_exp_sum(dx, x, Vr, 1.0f, m);
      row_scale(dx, Vr, (1.0f / sum) * dloss);  // p * dloss
      dx[target] -= dloss;                      // - onehot * dloss
      row_zero(dx + Vr, V - Vr);
    } else {
      // No output row to hold the exponentials: sum them in registers.
      const int64_t full = Vr / kW * kW;
      vf acc = vf{};
      for (int64_t c = 0; c < full; c += kW) acc += vexp(load(x + c) - splat(m));
      if (full < Vr) acc += vexp(load_part(x + full, Vr - full, -__builtin_inff()) - splat(m));
      sum = hsum(acc);
    }
    losses[n] = __builtin_logf(sum) - (x_target - m);
  }
}

static void softmax_xent(float* losses, float* dlogits, const float* logits, const int32_t* targets, int64_t N,
                         int64_t V, int64_t Vr, float dloss) {
  parallel_ranges(N, 1, N * V > kParallelRowElements, [=](int64_t row0, int64_t row1) {
    softmax_xent_rows(losses, dlogits, logits, targets, V, Vr, dloss, row0, row1);
  });
}

// ---- attention rows (attention_blocked.cpp calls these inside its per-head tasks) ---------------

// Attention rows are short (tens to a few hundred keys) and their valid length t + 1 is rarely a
// multiple of kW, so instead of partial loads the row steps read whole vectors of the tile's row
// (n floats, all allocated) and mask the lanes at or past `valid` to -inf: exp turns them into
// exact zeros, which is also the masking the caller needs. Vectors wholly past `valid` are zeroed.
static inline vi lane_index() {
  vi v;
  for (int i = 0; i < kW; ++i) v[i] = i;
  return v;
}

// Lanes j .. j+kW-1 of row s (n floats, n - j >= 1), lanes >= valid as -inf, lanes >= n as -inf.
static inline vf masked_scores(const float* s, int64_t j, int64_t n, int64_t valid) {
  const vf x = n - j >= kW ? load(s + j) : load_part(s + j, n - j, 0.f);
  return (lane_index() + int32_t(j)) < int32_t(valid) ? x : splat(-__builtin_inff());
}

static inline void store_row_vector(float* s, int64_t j, int64_t n, vf v) {
  if (n - j >= kW)
    store(s + j, v);
  else
    store_part(s + j, v, n - j);
}

// s[j] = exp(scale s[j] - shift) for j < valid, 0 for valid <= j < n; returns the sum.
static inline float attention_exp_row(float* s, int64_t valid, int64_t n, float scale, float shift) {
  const int64_t live = (valid + kW - 1) / kW * kW;  // vectors that hold valid lanes
  const vf a = splat(scale), b = splat(shift);
  vf acc = vf{};
  for (int64_t j = 0; j < live; j += kW) {
    const vf e = vexp(masked_scores(s, j, n, valid) * a - b);  // -inf lanes -> exactly 0
    store_row_vector(s, j, n, e);
    acc += e;
  }
  for (int64_t j = live; j < n; ++j) s[j] = 0.f;
  return hsum(acc);
}

// s[0, valid): raw scores q.k -> softmax(scale s) probabilities; s[valid, n) = 0 (masked keys of the
// tile). Returns logsumexp of the scaled row = scale max + log(sum) (scale > 0, so the max of the
// scaled row is scale times the max). Error of the probabilities: vexp's bound plus the fp32 sum.
static float attention_softmax_row(float* s, int64_t valid, int64_t n, float scale) {
  vf mv = splat(-__builtin_inff());
  for (int64_t j = 0; j < valid; j += kW) mv = vmax(mv, masked_scores(s, j, n, valid));
  const float m = hmax(mv) * scale;
  const float sum = attention_exp_row(s, valid, n, scale, m);
  row_scale(s, valid, 1.0f / sum);
  return m + __builtin_logf(sum);
}

// Forward rows of one query tile: row i of s (n floats) holds raw scores against keys 0 .. n-1, of
// which the first valid0 + i are visible; it becomes their softmax (scale s), 0 beyond, and lse[i]
// (if lse is not null) the scaled row's logsumexp.
static void attention_softmax_rows(float* s, int64_t rows, int64_t n, int64_t valid0, float scale, float* lse) {
  for (int64_t i = 0; i < rows; ++i) {
    const float row_lse = attention_softmax_row(s + i * n, valid0 + i, n, scale);
    if (lse) lse[i] = row_lse;
  }
}

// Backward rows of one query tile, in one pass per row: row i of p (raw scores in) becomes
// exp(scale s - lse[i]) for its valid0 + i visible keys (the forward's probabilities again), 0
// beyond; row i of dp (dP = dO V^T in) becomes p (dp - D) scale, D = dO_i . O_i (hs floats, rows
// ld apart): the score gradient (the softmax Jacobian applied to the row; masked keys give 0).
static void attention_backward_rows(float* p, float* dp, int64_t rows, int64_t n, int64_t valid0, float scale,
                                    const float* lse, const float* dO, const float* O, int64_t ld, int64_t hs) {
  for (int64_t i = 0; i < rows; ++i) {
    float *pr = p + i * n, *dr = dp + i * n;
    const int64_t valid = valid0 + i, live = (valid + kW - 1) / kW * kW;  // vectors that hold valid lanes
    const vf a = splat(scale), shift = splat(lse[i]), D = splat(dot(dO + i * ld, O + i * ld, hs));
    for (int64_t j = 0; j < live; j += kW) {
      const vf e = vexp(masked_scores(pr, j, n, valid) * a - shift);  // -inf lanes -> exactly 0
      const vf d = n - j >= kW ? load(dr + j) : load_part(dr + j, n - j, 0.f);
      store_row_vector(pr, j, n, e);
      store_row_vector(dr, j, n, e * (d - D) * a);
    }
    for (int64_t j = live; j < n; ++j) pr[j] = dr[j] = 0.f;
  }
}

}  // namespace kernels::cpu::simd::KILN_SIMD_NS
