// kernels/cuda/reduce.cu
// sum_squares on the GPU: out[0] (fp32) += sum of x^2, x of any GPU float dtype. The pieces of
// the global gradient norm (trainer/optimizer.cpp). Called through kernels::cuda::kOps.
// Not here: the sqrt, clipping, the cross-rank sum.
//
// Two passes, no atomics, so the result is bit-identical from run to run (resume contract):
//   pass 1: a fixed number of blocks (a function of n only, not of the GPU) each sum a
//           grid-strided share of x^2 in double and write one partial;
//   pass 2: one block sums the partials in a fixed tree order and adds them to out in double,
//           rounding once into fp32, as the CPU reference does.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

namespace {

constexpr int kThreads = 256;     // both passes; a power of two for the tree reduction
constexpr int kMaxBlocks = 1024;  // pass-1 partials
constexpr int64_t kPerBlockMin = int64_t(kThreads) * 16;

// Tree reduction of one double per thread in shared memory; thread 0 gets the block's sum.
__device__ double block_sum_double(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  return shared[0];
}

template <class T>
__global__ void __launch_bounds__(kThreads) sum_squares_partial_kernel(double* partial, const T* x, int64_t n) {
  __shared__ double shared[kThreads];
  double acc = 0;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < n; i += int64_t(gridDim.x) * kThreads) {
    const double v = to_float(x[i]);
    acc += v * v;
  }
  const double total = block_sum_double(acc, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void __launch_bounds__(kThreads)
    sum_squares_finish_kernel(float* out, const double* partial, int n_partial) {
  __shared__ double shared[kThreads];
  double acc = 0;
  for (int i = threadIdx.x; i < n_partial; i += kThreads) acc += partial[i];
  const double total = block_sum_double(acc, shared);
  if (threadIdx.x == 0) out[0] = float(double(out[0]) + total);
}

}  // namespace

void sum_squares(Tensor out, Tensor x, Stream s) {
  const char* op = "sum_squares";
  check_sum_squares(kDevice, out, x);
  KILN_CHECK(out.dtype == DType::F32,
             op_msg(op, std::string("out must be fp32 on the GPU, got ") + dtype_name(out.dtype)));
  const int64_t n = x.numel();
  const int64_t blocks64 = ceil_div(n, kPerBlockMin);
  const int blocks = int(blocks64 < 1 ? 1 : (blocks64 > kMaxBlocks ? kMaxBlocks : blocks64));
  const cudaStream_t stream = cuda_stream(s);
  double* partial = static_cast<double*>(scratch(sizeof(double) * kMaxBlocks, stream));
  dispatch_float(op, "x", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<sum_squares_partial_kernel<T>>(op, blocks, kThreads, 0, stream, partial, ptr<T>(x), n);
  });
  launch<sum_squares_finish_kernel>(op, 1, kThreads, 0, stream, ptr<float>(out), partial, blocks);
}

}  // namespace kernels::cuda
