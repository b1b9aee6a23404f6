// bench/sgemm_bench.cpp
// kiln_bench_sgemm: GFLOP/s of one thread's fp32 matrix products at the shapes a training step of
// the demo model (or GPT-2 124M) runs, kiln's sgemm (simd/gemm_impl.h, the active SIMD level)
// against OpenBLAS's cblas_sgemm, alternating, best of R repeats. The quickest way to see what a
// change to the gemm does per shape before timing a whole step (bench/cpu_step_bench.cpp).
//
//   kiln_bench_sgemm [--shape demo|gpt2-124m] [--repeats R]
//
// Not a test: asserts nothing. Run it pinned to one core (taskset -c 0) on a quiet machine.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cpu/simd/table.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Product {
  const char* what;
  bool ta, tb;
  int64_t M, N, K;
  float beta;
};

// The linear layers' three products (forward, input gradient, weight gradient) for rows N, in C,
// out OC: out = x W^T, dx = dy W, dW += dy^T x.
void add_linear(std::vector<Product>& v, const char* name, int64_t rows, int64_t in, int64_t out) {
  static std::vector<std::string> names;  // keeps the labels alive
  names.push_back(std::string(name) + " fwd");
  v.push_back({names.back().c_str(), false, true, rows, out, in, 0.f});
  names.push_back(std::string(name) + " dx");
  v.push_back({names.back().c_str(), false, false, rows, in, out, 0.f});
  names.push_back(std::string(name) + " dW");
  v.push_back({names.back().c_str(), true, false, out, in, rows, 1.f});
}

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string shape = "demo";
  int repeats = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--shape") shape = v;
    else if (k == "--repeats") repeats = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "kiln_bench_sgemm: unknown flag %s (--shape demo|gpt2-124m, --repeats R)\n", k.c_str());
      return 2;
    }
  }
  int64_t rows = 2048, C = 128, V = 256;
  if (shape == "gpt2-124m") {
    rows = 1024;
    C = 768;
    V = 50304;
  } else if (shape != "demo") {
    std::fprintf(stderr, "kiln_bench_sgemm: --shape is demo or gpt2-124m, got %s\n", shape.c_str());
    return 2;
  }
  openblas_set_num_threads(1);
  std::vector<Product> products;
  add_linear(products, "qkv", rows, C, 3 * C);
  add_linear(products, "attn proj", rows, C, C);
  add_linear(products, "fc", rows, C, 4 * C);
  add_linear(products, "mlp proj", rows, 4 * C, C);
  add_linear(products, "lm head", rows, C, V);
  const auto& K = kernels::cpu::simd::active();
  std::printf("kiln_bench_sgemm: %s, level %s, one thread, best of %d\n", shape.c_str(),
              kernels::cpu::simd::isa_name(K.isa), repeats);
  std::printf("%-16s %5s %5s %5s   %8s %8s  GFLOP/s\n", "product", "M", "N", "K", "kiln", "blas");
  std::vector<float> work(size_t(kernels::cpu::simd::kGemmWorkspaceFloats));
  double kiln_s = 0, blas_s = 0, flops = 0;
  for (const Product& p : products) {
    const int64_t lda = p.ta ? p.M : p.K, ldb = p.tb ? p.K : p.N;
    std::vector<float> A(size_t(p.M * p.K)), B(size_t(p.K * p.N)), C1(size_t(p.M * p.N)), C2 = C1;
    for (size_t i = 0; i < A.size(); ++i) A[i] = float(int(i * 7919 % 2001) - 1000) * 1e-3f;
    for (size_t i = 0; i < B.size(); ++i) B[i] = float(int(i * 104729 % 2001) - 1000) * 1e-3f;
    double best_kiln = 1e30, best_blas = 1e30;
    for (int r = 0; r < repeats; ++r) {
      auto t0 = Clock::now();
      K.sgemm(p.ta, p.tb, p.M, p.N, p.K, 1.f, A.data(), lda, B.data(), ldb, p.beta, C1.data(), p.N, nullptr, work.data());
      best_kiln = std::min(best_kiln, seconds(t0));
      t0 = Clock::now();
      cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans, int(p.M),
                  int(p.N), int(p.K), 1.f, A.data(), int(lda), B.data(), int(ldb), p.beta, C2.data(), int(p.N));
      best_blas = std::min(best_blas, seconds(t0));
    }
    const double f = 2.0 * double(p.M) * double(p.N) * double(p.K);
    std::printf("%-16s %5lld %5lld %5lld   %8.1f %8.1f\n", p.what, (long long)p.M, (long long)p.N, (long long)p.K,
                f / best_kiln * 1e-9, f / best_blas * 1e-9);
    kiln_s += best_kiln;
    blas_s += best_blas;
    flops += f;
  }
  std::printf("%-16s %23s   %8.1f %8.1f   (%.2f vs %.2f ms per pass of all)\n", "all", "", flops / kiln_s * 1e-9,
              flops / blas_s * 1e-9, kiln_s * 1e3, blas_s * 1e3);
  return 0;
}
