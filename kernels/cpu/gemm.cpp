// kernels/cpu/gemm.cpp
// gemm() (declared in matmul.h): every matrix product of the CPU backend, the one place kiln calls
// BLAS, and the one thread pool. gemm.h says which code computes an fp32 product.
//
// kiln's CPU threads are OpenMP's. OpenBLAS, left alone, runs a second pool of its own threads,
// and on a 2-core machine the two fight: OpenMP threads spin at their barriers while OpenBLAS's
// workers wait for the same cores (42% of a 2-thread demo step went there, issue 16). So BLAS is
// made single-threaded, whatever build of OpenBLAS is installed (pthread, OpenMP or serial), and
// gemm() splits a large product itself: the rows (or columns) of C are cut into one block per
// OpenMP thread, each computed by one single-threaded sgemm/dgemm call inside kiln's parallel
// region. Called from inside a parallel region, gemm() runs on the calling thread. A split never
// cuts the K dimension, so with kiln's sgemm every element of C is the same FMA chain whatever the
// thread count; OpenBLAS's edge kernels may round a block's last rows differently, so on its path
// results are deterministic for a given thread count (as they were with its own threads).
#include "kernels/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/simd/table.h"

namespace kernels::cpu {

namespace {

// BLAS takes int dimensions: refuse sizes that would silently truncate.
blasint to_blas(int64_t v) {
  KILN_CHECK(v >= 0 && v <= INT32_MAX, "gemm: dimension " + std::to_string(v) + " does not fit BLAS int");
  return static_cast<blasint>(v);
}
CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

void blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

// Below this many multiply-adds a product stays on one thread (a parallel region costs ~microseconds).
constexpr int64_t kSplitWork = int64_t(1) << 21;
// Blocks of C are cut at multiples of this many rows/columns (the BLAS micro-kernels' tile sizes).
constexpr int64_t kSplitAlign = 16;

// K at or below which the avx2 level uses kiln's sgemm (gemm.h).
constexpr int64_t kKilnSgemmMaxKAvx2 = 512;

GemmChoice gemm_choice() {
  static const GemmChoice choice = parse_gemm_choice(std::getenv("KILN_CPU_GEMM"));
  return choice;
}

// C (M,N) += bias (N) on every row, after a BLAS product (kiln's sgemm adds it as it stores).
template <class Real>
void add_bias_rows(Real* C, int64_t ldc, const Real* bias, int64_t M, int64_t N) {
  if (bias == nullptr) return;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] += bias[j];
}

// fp32: kiln's own product at the active SIMD level (simd/gemm_impl.h) with this thread's scratch,
// or OpenBLAS's (gemm.h says which).
void blas_call(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias) {
  if (!fp32_gemm_is_kilns(K)) {
    cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), to_blas(M), to_blas(N), to_blas(K), alpha, A, to_blas(lda), B,
                to_blas(ldb), beta, C, to_blas(ldc));
    add_bias_rows(C, ldc, bias, M, N);
    return;
  }
  thread_local std::vector<float> work;
  if (work.empty()) work.resize(size_t(simd::kGemmWorkspaceFloats));
  simd::active().sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, work.data());
}
void blas_call(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
               const double* B, int64_t ldb, double beta, double* C, int64_t ldc, const double* bias) {
  cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), to_blas(M), to_blas(N), to_blas(K), alpha, A, to_blas(lda), B,
              to_blas(ldb), beta, C, to_blas(ldc));
  add_bias_rows(C, ldc, bias, M, N);
}

// C(M,N) = alpha op(A) op(B) + beta C (+ bias on every row), split over the longer of M and N when
// it is worth it.
template <class Real>
void gemm_split(bool ta, bool tb, int64_t M, int64_t N, int64_t K, Real alpha, const Real* A, int64_t lda,
                const Real* B, int64_t ldb, Real beta, Real* C, int64_t ldc, const Real* bias) {
  if (M == 0 || N == 0) return;
  blas_single_threaded();
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads == 1 || M * N * K < kSplitWork) {
    blas_call(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
    return;
  }
  const bool by_rows = M >= N;
  const int64_t len = by_rows ? M : N;
  const int64_t block = (len + threads - 1) / threads;
  const int64_t aligned = (block + kSplitAlign - 1) / kSplitAlign * kSplitAlign;
  const int64_t n_blocks = (len + aligned - 1) / aligned;
#pragma omp parallel for schedule(static) num_threads(int(n_blocks))
  for (int64_t i = 0; i < n_blocks; ++i) {
    const int64_t b0 = i * aligned, b = std::min(aligned, len - b0);
    if (by_rows)  // rows b0.. of C and of op(A): A is (M,K) row-major, or (K,M) when transposed
      blas_call(ta, tb, b, N, K, alpha, ta ? A + b0 : A + b0 * lda, lda, B, ldb, beta, C + b0 * ldc, ldc, bias);
    else  // columns b0.. of C, of op(B) and of the bias: B is (K,N) row-major, or (N,K) when transposed
      blas_call(ta, tb, M, b, K, alpha, A, lda, tb ? B + b0 * ldb : B + b0, ldb, beta, C + b0, ldc,
                bias ? bias + b0 : nullptr);
  }
}

}  // namespace

GemmChoice parse_gemm_choice(const char* value) {
  const std::string v = value ? value : "";
  if (v.empty() || v == "auto") return GemmChoice::kAuto;
  if (v == "kiln") return GemmChoice::kKiln;
  if (v == "blas") return GemmChoice::kBlas;
  throw InputError("KILN_CPU_GEMM=" + v + ": expected kiln, blas or auto");
}

bool fp32_gemm_is_kilns(int64_t K) {
  switch (gemm_choice()) {
    case GemmChoice::kKiln: return true;
    case GemmChoice::kBlas: return false;
    case GemmChoice::kAuto: break;
  }
  switch (simd::active_isa()) {
    case simd::Isa::kAvx512: return true;
    case simd::Isa::kAvx2: return K <= kKilnSgemmMaxKAvx2;
    case simd::Isa::kBaseline: break;
  }
  return false;
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias) {
  gemm_split(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc, const double* bias) {
  gemm_split(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

}  // namespace kernels::cpu
