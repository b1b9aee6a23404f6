// kernels/cuda/adamw.cu
// One fused AdamW step on the GPU: reads grad, m, v, master once, writes m, v, master and the
// optional compute-precision copy (bf16/fp16/fp32, rounded to nearest even). Called through
// kernels::cuda::kOps by trainer/optimizer.cpp, once per parameter.
// Not here: gradient clipping or loss-scale removal (folded into args.grad_scale by the caller).
//
// The math is kernels/cpu/adamw.h, operation for operation and in the same order. Every float
// operation is an explicit round-to-nearest intrinsic (__fmul_rn, __fadd_rn, ...) so nvcc cannot
// contract a*b+c into an FMA: with the bias corrections computed on the host by the same
// std::pow as the CPU, the GPU update matches the CPU one to the last bit (x86-64 without
// -march=native does not contract either).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kThreads = 256;

struct AdamWConsts {
  float lr, b1, b2, one_minus_b1, one_minus_b2, eps, wd, gs, bc1, bc2;
};

// compute may be null (no separate compute copy).
template <class C>
__global__ void adamw_kernel(float* param, C* compute, const float* grad, float* m, float* v, int64_t n,
                             AdamWConsts k) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = __fmul_rn(grad[i], k.gs);
    const float mi = __fadd_rn(__fmul_rn(k.b1, m[i]), __fmul_rn(k.one_minus_b1, g));
    const float vi = __fadd_rn(__fmul_rn(k.b2, v[i]), __fmul_rn(__fmul_rn(k.one_minus_b2, g), g));  // ((1-b2) g) g
    const float mhat = __fdiv_rn(mi, k.bc1);
    const float vhat = __fdiv_rn(vi, k.bc2);
    const float p = param[i];
    const float update = __fadd_rn(__fdiv_rn(mhat, __fadd_rn(__fsqrt_rn(vhat), k.eps)), __fmul_rn(k.wd, p));
    const float pn = __fsub_rn(p, __fmul_rn(k.lr, update));
    m[i] = mi;
    v[i] = vi;
    param[i] = pn;
    if (compute != nullptr) compute[i] = from_float<C>(pn);
  }
}

}  // namespace

void adamw_update(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, AdamWArgs args, Stream s) {
  const char* op = "adamw_update";
  const int64_t n = check_adamw_update(kDevice, master, compute, grad, m, v, args);
  KILN_CHECK(master.dtype != DType::F64, op_msg(op,
                                                "master is fp64: fp64 runs only on the CPU backend "
                                                "(gradient checks); the CUDA backend keeps fp32 masters"));
  for (const NamedTensor& t :
       {NamedTensor{"master", &master}, NamedTensor{"grad", &grad}, NamedTensor{"m", &m}, NamedTensor{"v", &v}})
    KILN_CHECK(t.t->dtype == DType::F32, op_msg(op, std::string(t.name) + " is " + dtype_name(t.t->dtype) +
                                                        "; optimizer state is fp32 on the GPU"));
  if (!compute.empty()) check_compute_dtype(op, "compute", compute.dtype);
  // Same expressions, in float, as adamw_update_ref<float> (kernels/cpu/adamw.h).
  AdamWConsts k{};
  k.lr = args.lr;
  k.b1 = args.beta1;
  k.b2 = args.beta2;
  k.one_minus_b1 = 1.0f - args.beta1;
  k.one_minus_b2 = 1.0f - args.beta2;
  k.eps = args.eps;
  k.wd = args.weight_decay;
  k.gs = args.grad_scale;
  k.bc1 = 1.0f - std::pow(args.beta1, float(args.step));
  k.bc2 = 1.0f - std::pow(args.beta2, float(args.step));
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(s);
  const unsigned blocks = grid_for(n, kThreads);
  if (compute.empty()) {
    launch<adamw_kernel<float>>(op, blocks, kThreads, 0, stream, ptr<float>(master), nullptr, ptr<float>(grad),
                                ptr<float>(m), ptr<float>(v), n, k);
  } else {
    dispatch_float(op, "compute", compute.dtype, [&](auto tag) {
      using C = decltype(tag);
      launch<adamw_kernel<C>>(op, blocks, kThreads, 0, stream, ptr<float>(master), ptr<C>(compute), ptr<float>(grad),
                              ptr<float>(m), ptr<float>(v), n, k);
    });
  }
}

}  // namespace kernels::cuda
