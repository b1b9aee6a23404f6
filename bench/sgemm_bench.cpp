// bench/sgemm_bench.cpp
// kiln_bench_sgemm: GFLOP/s of one thread's fp32 matrix products at the shapes a training step of
// the demo model (or GPT-2 124M) runs, kiln's sgemm (simd/gemm_impl.h, the active SIMD level)
// against OpenBLAS's cblas_sgemm, alternating, best of R repeats, and the time of one step's
// products (every layer's, and the head's) at those rates. Times are the thread's CPU time, which
// other processes on a shared machine do not inflate. Operands stay in cache between repeats, so
// these are upper bounds: inside a training step the same products run ~5% slower (their inputs
// were written long before). The quickest way to see what a change to the gemm does per shape
// before timing a whole step (bench/cpu_step_bench.cpp).
//
//   kiln_bench_sgemm [--shape demo|gpt2-124m] [--repeats R]
//
// Not a test: asserts nothing. Run it pinned to one core (taskset -c 0).
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "kernels/cpu/simd/table.h"

namespace {

struct Product {
  const char* what;
  bool ta, tb;
  int64_t M, N, K;
  float beta;
  int per_step;  // how many times a training step runs it (once per layer, or once)
};

// A linear layer's three products (forward, input gradient, weight gradient) for `rows` rows, `in`
// inputs, `out` outputs: y = x W^T, dx = dy W, dW += dy^T x.
void add_linear(std::vector<Product>& v, const char* name, int64_t rows, int64_t in, int64_t out, int per_step) {
  static std::vector<std::string> names;  // keeps the labels alive
  names.reserve(64);
  names.push_back(std::string(name) + " fwd");
  v.push_back({names.back().c_str(), false, true, rows, out, in, 0.f, per_step});
  names.push_back(std::string(name) + " dx");
  v.push_back({names.back().c_str(), false, false, rows, in, out, 0.f, per_step});
  names.push_back(std::string(name) + " dW");
  v.push_back({names.back().c_str(), true, false, out, in, rows, 1.f, per_step});
}

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

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
  int layers = 4;
  if (shape == "gpt2-124m") {
    rows = 1024;
    C = 768;
    V = 50304;
    layers = 12;
  } else if (shape != "demo") {
    std::fprintf(stderr, "kiln_bench_sgemm: --shape is demo or gpt2-124m, got %s\n", shape.c_str());
    return 2;
  }
  openblas_set_num_threads(1);
  std::vector<Product> products;
  add_linear(products, "qkv", rows, C, 3 * C, layers);
  add_linear(products, "attn proj", rows, C, C, layers);
  add_linear(products, "fc", rows, C, 4 * C, layers);
  add_linear(products, "mlp proj", rows, 4 * C, C, layers);
  add_linear(products, "lm head", rows, C, V, 1);
  const auto& K = kernels::cpu::simd::active();
  std::printf("kiln_bench_sgemm: %s, level %s, one thread, best of %d\n", shape.c_str(),
              kernels::cpu::simd::isa_name(K.isa), repeats);
  std::printf("%-16s %5s %5s %5s   %8s %8s  GFLOP/s\n", "product", "M", "N", "K", "kiln", "blas");
  std::vector<float> work(static_cast<size_t>(kernels::cpu::simd::kGemmWorkspaceFloats));
  double kiln_s = 0, blas_s = 0, flops = 0;
  for (const Product& p : products) {
    const int64_t lda = p.ta ? p.M : p.K, ldb = p.tb ? p.K : p.N;
    std::vector<float> A(size_t(p.M * p.K)), B(size_t(p.K * p.N)), C1(size_t(p.M * p.N)), C2 = C1;
    for (size_t i = 0; i < A.size(); ++i) A[i] = float(int(i * 7919 % 2001) - 1000) * 1e-3f;
    for (size_t i = 0; i < B.size(); ++i) B[i] = float(int(i * 104729 % 2001) - 1000) * 1e-3f;
    double best_kiln = 1e30, best_blas = 1e30;
    for (int r = 0; r < repeats; ++r) {
      double t0 = thread_seconds();
      K.sgemm(p.ta, p.tb, p.M, p.N, p.K, 1.f, A.data(), lda, B.data(), ldb, p.beta, C1.data(), p.N, nullptr, work.data());
      best_kiln = std::min(best_kiln, thread_seconds() - t0);
      t0 = thread_seconds();
      cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans, int(p.M),
                  int(p.N), int(p.K), 1.f, A.data(), int(lda), B.data(), int(ldb), p.beta, C2.data(), int(p.N));
      best_blas = std::min(best_blas, thread_seconds() - t0);
    }
    const double f = 2.0 * double(p.M) * double(p.N) * double(p.K);
    std::printf("%-16s %5lld %5lld %5lld   %8.1f %8.1f\n", p.what, (long long)p.M, (long long)p.N, (long long)p.K,
                f / best_kiln * 1e-9, f / best_blas * 1e-9);
    kiln_s += p.per_step * best_kiln;
    blas_s += p.per_step * best_blas;
    flops += p.per_step * f;
  }
  std::printf("%-16s %23s   %8.1f %8.1f   (one step's products: %.1f vs %.1f ms)\n", "step", "",
              flops / kiln_s * 1e-9, flops / blas_s * 1e-9, kiln_s * 1e3, blas_s * 1e3);
  return 0;
}
