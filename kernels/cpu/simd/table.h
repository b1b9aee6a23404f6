// kernels/cpu/simd/table.h
// The vectorised fp32 kernels of one SIMD level, as a table of functions (like kernels::Ops, one
// level down): kernels/cpu/simd/isa_{baseline,avx2,avx512}.cpp each fill one from the same source
// (elementwise_impl.h, rows_impl.h, tile_gemm_impl.h, gemm_impl.h, listed by table_impl.h) compiled
// with that level's flags; active() returns the one for isa.h's active level.
//
// Called by the CPU op entry points for fp32 work (gelu, swiglu, layernorm, adamw, reduce, softmax_xent,
// matmul .cpp), by gemm.cpp (sgemm) and by attention_blocked.cpp. fp64 never comes here: the
// templated references in kernels/cpu/*.h stay the ground truth and the gradient-check path.
// Every function computes what the reference of the same name computes (same formula, same order
// of rows); the error bound of each against fp64 is below, and tests/kernels/test_simd*.cpp check
// them on every level the CPU supports.
// Deliberately no kiln headers here beyond isa.h: the per-level files must not instantiate any
// shared inline function with their wider instruction set (see vec.h).
#pragma once

#include <cstdint>

#include "kernels/cpu/simd/isa.h"

namespace kernels::cpu::simd {

// One AdamW step's scalars (kernels::AdamWArgs plus the bias corrections, computed once).
struct AdamWScalars {
  float lr, beta1, beta2, eps, weight_decay, grad_scale;
  float bias_correction1, bias_correction2;  // 1 - beta^step, as adamw_update_ref computes them
};

// Error bounds against fp64, one per kernel (the comment at each kernel says where the error comes
// from; tests/kernels/test_simd*.cpp assert each at every level the CPU runs):
constexpr double kExpRelDomainLo = -86.6;           // exp: relative bound for x >= this (n >= -125)...
constexpr double kExpMaxRelError = 0x1p-22;         // ...|exp - exp64| <= this exp64 (simd/exp.h)
constexpr double kExpMaxAbsErrorBelow = 0x1p-125;   // ...and absolute below it (results flush to 0)
constexpr double kGeluMaxErrorPerX = 4e-7;          // |gelu - gelu64| <= this |x| + 1e-37
constexpr double kGeluGradMaxErrorPerX = 4e-7;      // |dinp - dinp64| <= this (1 + |x|) |dout| + 1e-37
constexpr double kSwigluMaxRelError = 1e-6;         // out: this |out64| (+ 1e-37 |g u| below g = -87)
constexpr double kSwigluGradMaxRelError = 1e-6;     // dgate, dup: this the size of their terms (elementwise_impl.h)
constexpr double kAdamWMaxRelError = 3e-7;          // each of param, m, v: relative to its terms' sizes
constexpr double kSumSquaresMaxRelError = 1e-12;    // fp64 sums in another order than the reference's
constexpr double kLayernormMaxError = 1e-5;         // out: this (3 |w| + |b| + 1); rstd: this rstd
constexpr double kLayernormGradMaxRelError = 1e-5;  // dx, dweight, dbias: norm-relative per tensor
constexpr double kXentMaxError = 2e-6;              // loss: this (1 + loss); dlogits: this |dloss|
constexpr double kAttentionMaxRelError = 2e-6;      // out, lse, dqkv: norm-relative per tensor
constexpr double kSgemmMaxRelError = 1e-6;          // each C element: this sum |alpha a b| (+ |beta c|)

// Floats of scratch one sgemm call needs (packed blocks of B and A, simd/gemm_impl.h): ~4.3 MiB,
// one per thread (gemm.cpp).
constexpr int64_t kGemmWorkspaceFloats = (int64_t(1) << 20) + (int64_t(1) << 16) + 16;

// Elements per partial sum of sum_squares: fixed, so the sum is the same under any thread count
// (reduce.h's kSumSquaresBlock, which reduce.cpp checks equals this).
constexpr int64_t kSumSquaresBlock = 1 << 14;

struct Kernels {
  Isa isa;
  // ---- elementwise (elementwise_impl.h); parallel over elements with OpenMP inside ----
  void (*exp)(float* y, const float* x, int64_t n);  // the vectorised exp itself (tests, bench)
  void (*gelu_forward)(float* out, const float* inp, int64_t n);
  void (*gelu_backward)(float* dinp, const float* dout, const float* inp, int64_t n);  // dinp may alias dout
  // SwiGLU over rows of inp (N,2F) = [gate | up]: out (N,F); dinp (N,2F) may alias inp.
  void (*swiglu_forward)(float* out, const float* inp, int64_t N, int64_t F);
  void (*swiglu_backward)(float* dinp, const float* dout, const float* inp, int64_t N, int64_t F);
  void (*adamw_update)(float* param, const float* grad, float* m, float* v, int64_t n, const AdamWScalars& a);
  double (*sum_squares)(const float* x, int64_t n);  // blocks of kSumSquaresBlock, fp64 sums, as the reference
  // ---- rows (rows_impl.h); parallel over rows (or channels) with OpenMP inside ----
  void (*layernorm_forward)(float* out, float* mean, float* rstd, const float* x, const float* weight,
                            const float* bias, int64_t N, int64_t C);
  void (*layernorm_backward)(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                             const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C);
  void (*softmax_xent)(float* losses, float* dlogits, const float* logits, const int32_t* targets, int64_t N, int64_t V,
                       int64_t Vr, float dloss);
  // out (C) += column sums of x (N, C), rows in order: a linear layer's bias gradient (exact
  // reference order: the same bits as matmul_backward_ref's loop).
  void (*column_sums_add)(float* out, const float* x, int64_t N, int64_t C);
  // ---- the rows of one attention tile (rows_impl.h); no threads inside: attention_blocked.cpp runs
  // them per head. Row i of a tile (n floats) sees keys 0 .. valid0 + i - 1 (causal).
  // s: raw scores q.k -> softmax(scale s) over the visible keys, 0 beyond; lse[i] (if not null) the
  // scaled row's logsumexp.
  void (*attention_softmax_rows)(float* s, int64_t rows, int64_t n, int64_t valid0, float scale, float* lse);
  // p: raw scores -> exp(scale s - lse[i]) (the probabilities again), 0 beyond the visible keys;
  // dp: dO V^T -> p (dp - D) scale with D = dO_i . O_i (rows of hs floats, ld apart): dS.
  void (*attention_backward_rows)(float* p, float* dp, int64_t rows, int64_t n, int64_t valid0, float scale,
                                  const float* lse, const float* dO, const float* O, int64_t ld, int64_t hs);
  // C (M,N) = A B, or C += A B with accumulate; A(i,k) = A[i a_row + k a_k] (a transposed view
  // needs no copy), B(k,j) = B[k ldb + j]. Attention's small products (tile_gemm_impl.h).
  void (*tile_gemm)(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_row, int64_t a_k, const float* B,
                    int64_t ldb, float* C, int64_t ldc, bool accumulate);
  // dst (cols, rows; row stride ldd) = src (rows, cols; row stride lds) transposed (exact copies).
  void (*transpose)(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows, int64_t cols);
  // ---- the model's matrix products (gemm_impl.h); single-threaded, gemm.cpp splits over threads ----
  // C (M,N) = alpha op(A) op(B) + beta C, row-major, op(X) = X^T when transposed (cblas_sgemm's
  // contract), then + bias (N floats, added to every row; null: none) as the last K block's tiles
  // are stored: the same bits as adding it to the finished product, without a pass over C.
  // work: kGemmWorkspaceFloats floats of scratch.
  void (*sgemm)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias, float* work);
};

// The table for the active level (isa.h). Cheap: one atomic load and an index.
const Kernels& active();
// The table of a given level, whether or not this CPU can run it (tests check isa_supported first).
const Kernels& for_isa(Isa isa);

}  // namespace kernels::cpu::simd
