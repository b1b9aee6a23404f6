// tests/kernels_cuda/test_cuda_mma.cpp
// The tensor-core fragment API (kernels/cuda/mma.cuh) against a plain matrix product in double:
// ldmatrix x4 (A), x2 and x2.trans (B in both layouts), mma.sync m16n8k16 for bf16 and fp16, and a
// second product fed straight from the first's accumulators (a_from_accumulators). The inputs are
// small integers (-4..4), so every product, sum and intermediate is exact in fp32, bf16 and fp16:
// the results must equal the double product exactly (tolerance 0), whatever the summation order.
// On the simulator the fragments follow the PTX layouts element by element, so a wrong
// register/element mapping in mma.cuh fails here.
#include "kernels/cuda/mma_check.h"
#include "tests/kernels_cuda/cuda_test_util.h"

namespace kernels::test {
namespace {

const Stream kStream{};

// n integers in [-4, 4], a pure function of (seed, i).
std::vector<double> small_ints(int64_t n, uint64_t seed) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = std::floor(uniform01(mix(seed, Purpose::kTest), uint64_t(i)) * 9.0) - 4.0;
  return v;
}

// Row-major (rows x cols) double product.
std::vector<double> product(const std::vector<double>& a, const std::vector<double>& b, int64_t M, int64_t K,
                            int64_t N) {
  std::vector<double> c(size_t(M * N), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) c[size_t(i * N + j)] += a[size_t(i * K + k)] * b[size_t(k * N + j)];
  return c;
}

std::vector<double> transpose(const std::vector<double>& b, int64_t K, int64_t N) {
  std::vector<double> t(size_t(K * N));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) t[size_t(j * K + k)] = b[size_t(k * N + j)];
  return t;
}

void check_tile_matmul(DType dt, int64_t M, int64_t N, int64_t K, bool b_k_major) {
  const std::string shape = fmt("M%lld N%lld K%lld B %s", (long long)M, (long long)N, (long long)K,
                                b_k_major ? "(K,N)" : "(N,K)");
  const std::vector<double> a = small_ints(M * K, 90), b = small_ints(K * N, 91);
  TypedTensor ah(dt, {M, K}, a), bh(dt, b_k_major ? Shape{K, N} : Shape{N, K}, b_k_major ? b : transpose(b, K, N));
  GpuTensor ag(ah), bg(bh), cg(DType::F32, {M, N});
  backend_under_test().mma_tile_matmul(cg.t(), ag.t(), bg.t(), b_k_major, kStream);
  expect_close(cg.get(), product(a, b, M, K, N), 0.0, label("mma_tile_matmul", dt, shape));
}

TEST(CudaMma, TileProductMatchesPlainProduct) {
  KILN_REQUIRE_GPU();
  for (DType dt : {DType::BF16, DType::F16})
    for (bool k_major : {true, false}) {
      check_tile_matmul(dt, 16, 8, 16, k_major);  // one tile
      check_tile_matmul(dt, 48, 40, 64, k_major);
    }
}

TEST(CudaMma, ChainedProductTakesAccumulatorsAsA) {
  KILN_REQUIRE_GPU();
  const int64_t M = 32;
  for (DType dt : {DType::BF16, DType::F16}) {
    const std::vector<double> a = small_ints(M * 16, 92), b1 = small_ints(16 * 16, 93), b2 = small_ints(16 * 8, 94);
    // |a b1| <= 256: exact in bf16 and fp16, so rounding the intermediate loses nothing.
    const std::vector<double> want = product(product(a, b1, M, 16, 16), b2, M, 16, 8);
    TypedTensor ah(dt, {M, 16}, a), b1h(dt, {16, 16}, b1), b2h(dt, {16, 8}, b2);
    GpuTensor ag(ah), b1g(b1h), b2g(b2h), dg(DType::F32, {M, 8});
    backend_under_test().mma_chain_matmul(dg.t(), ag.t(), b1g.t(), b2g.t(), kStream);
    expect_close(dg.get(), want, 0.0, label("mma_chain_matmul", dt, "M32"));
  }
}

}  // namespace
}  // namespace kernels::test
