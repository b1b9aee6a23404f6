// kernels/cuda/mma_check.cu
// The reference users of the tensor-core fragment API (mma.cuh) declared in mma_check.h: one warp
// per 16x8 output tile stages its A and B tiles in shared memory, loads fragments with ldmatrix and
// accumulates with mma.sync. Deliberately simple (no pipelining, one warp per block): its job is to
// pin down the fragment layouts, not speed. Called by tests/kernels_cuda/test_cuda_mma.cpp.
#include "kernels/cuda/mma_check.h"

#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/mma.cuh"

namespace kernels::cuda {

namespace {

// Block = one warp; grid (N/8, M/16). A (M,K) row-major; B (K,N) row-major if KMajor, else (N,K).
template <class T, bool KMajor>
__global__ void __launch_bounds__(32) mma_tile_matmul_kernel(float* C, const T* A, const T* B, int N, int K) {
  __shared__ __align__(16) T a_s[16 * 16];
  __shared__ __align__(16) T b_s[16 * 8];  // KMajor: 16 rows (k) of 8; else 8 rows (n) of 16
  const int lane = threadIdx.x, m0 = int(blockIdx.y) * 16, n0 = int(blockIdx.x) * 8;
  mma::FragC acc{{0.f, 0.f, 0.f, 0.f}};
  for (int k0 = 0; k0 < K; k0 += 16) {
    for (int i = lane; i < 16 * 16; i += 32) a_s[i] = A[int64_t(m0 + i / 16) * K + k0 + i % 16];
    for (int i = lane; i < 16 * 8; i += 32)
      b_s[i] = KMajor ? B[int64_t(k0 + i / 8) * N + n0 + i % 8] : B[int64_t(n0 + i / 16) * K + k0 + i % 16];
    __syncwarp();
    mma::FragA<T> a;
    mma::FragB<T> b;
    mma::load_a(a, a_s, 16);
    if (KMajor)
      mma::load_b_kn(b, b_s, 8);
    else
      mma::load_b_nk(b, b_s, 16);
    mma::mma_sync(acc, a, b, acc);
    __syncwarp();  // the next tile overwrites a_s, b_s
  }
  mma::store_c(C + int64_t(m0) * N + n0, N, acc);
}

// Block = one warp per 16 rows. S = A (16 rows x 16) @ B1 (16x16) as two 16x8 accumulator tiles,
// then D = S @ B2 (16x8) with S as the A operand, straight from registers.
template <class T>
__global__ void __launch_bounds__(32) mma_chain_matmul_kernel(float* D, const T* A, const T* B1, const T* B2) {
  __shared__ __align__(16) T a_s[16 * 16], b1_s[16 * 16], b2_s[16 * 8];
  const int lane = threadIdx.x, m0 = int(blockIdx.x) * 16;
  for (int i = lane; i < 16 * 16; i += 32) {
    a_s[i] = A[int64_t(m0) * 16 + i];
    b1_s[i] = B1[i];
  }
  for (int i = lane; i < 16 * 8; i += 32) b2_s[i] = B2[i];
  __syncwarp();
  mma::FragA<T> a;
  mma::FragB<T> b_lo, b_hi, b2;
  mma::load_a(a, a_s, 16);
  mma::load_b_kn(b_lo, b1_s, 16);      // columns 0-7 of B1
  mma::load_b_kn(b_hi, b1_s + 8, 16);  // columns 8-15
  mma::load_b_kn(b2, b2_s, 8);
  const mma::FragC zero{{0.f, 0.f, 0.f, 0.f}};
  mma::FragC s_lo, s_hi, d;
  mma::mma_sync(s_lo, a, b_lo, zero);
  mma::mma_sync(s_hi, a, b_hi, zero);
  mma::mma_sync(d, mma::a_from_accumulators<T>(s_lo, s_hi), b2, zero);
  mma::store_c(D + int64_t(m0) * 8, 8, d);
}

void check_mma_inputs(const char* op, std::initializer_list<NamedTensor> ts) {
  check_present(op, ts, Device::kCuda);
  const DType dt = ts.begin()->t->dtype;
  KILN_CHECK(dt == DType::BF16 || dt == DType::F16,
             op_msg(op, std::string("inputs must be bf16 or fp16, got ") + dtype_name(dt)));
  check_same_dtype(op, dt, ts);
}

// fn(__nv_bfloat16{}) or fn(__half{}).
template <class Fn>
void dispatch_16bit(DType d, Fn&& fn) {
  if (d == DType::BF16)
    fn(__nv_bfloat16{});
  else
    fn(__half{});
}

}  // namespace

void mma_tile_matmul(Tensor c, Tensor a, Tensor b, bool b_k_major, Stream s) {
  const char* op = "mma_tile_matmul";
  check_mma_inputs(op, {{"a", &a}, {"b", &b}});
  check_present(op, "c", c, Device::kCuda);
  check_stat(op, "c", c);
  KILN_CHECK(a.shape.ndim == 2 && b.shape.ndim == 2, op_msg(op, "a and b must be 2-D"));
  const int64_t M = a.dim(0), K = a.dim(1), N = b_k_major ? b.dim(1) : b.dim(0);
  check_shape(op, "b", b, b_k_major ? Shape{K, N} : Shape{N, K});
  check_shape(op, "c", c, {M, N});
  KILN_CHECK(M % 16 == 0 && N % 8 == 0 && K % 16 == 0 && M > 0 && N > 0 && K > 0,
             op_msg(op, "M, N, K must be positive multiples of 16, 8, 16, got " + a.shape.str() + " @ " + b.shape.str()));
  const dim3 grid(unsigned(N / 8), unsigned(M / 16));
  dispatch_16bit(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (b_k_major)
      launch<mma_tile_matmul_kernel<T, true>>(op, grid, 32, 0, cuda_stream(s), ptr<float>(c), ptr<T>(a), ptr<T>(b),
                                              int(N), int(K));
    else
      launch<mma_tile_matmul_kernel<T, false>>(op, grid, 32, 0, cuda_stream(s), ptr<float>(c), ptr<T>(a), ptr<T>(b),
                                               int(N), int(K));
  });
}

void mma_chain_matmul(Tensor d, Tensor a, Tensor b1, Tensor b2, Stream s) {
  const char* op = "mma_chain_matmul";
  check_mma_inputs(op, {{"a", &a}, {"b1", &b1}, {"b2", &b2}});
  check_present(op, "d", d, Device::kCuda);
  check_stat(op, "d", d);
  KILN_CHECK(a.shape.ndim == 2 && a.dim(1) == 16 && a.dim(0) % 16 == 0 && a.dim(0) > 0,
             op_msg(op, "a must be (M, 16) with M a positive multiple of 16, got " + a.shape.str()));
  check_shape(op, "b1", b1, {16, 16});
  check_shape(op, "b2", b2, {16, 8});
  check_shape(op, "d", d, {a.dim(0), 8});
  dispatch_16bit(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<mma_chain_matmul_kernel<T>>(op, unsigned(a.dim(0) / 16), 32, 0, cuda_stream(s), ptr<float>(d), ptr<T>(a),
                                       ptr<T>(b1), ptr<T>(b2));
  });
}

}  // namespace kernels::cuda
