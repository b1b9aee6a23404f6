// kernels/cuda/reduce.cu
// sum_squares on the GPU: out[0] (fp32) += sum of x^2, x of any GPU float dtype; and
// sum_squares_multi: out[flag] += sum of x^2 over each piece of a segment table (kernels/segments.h),
// the optimizer's whole owned range in one pass, tp-sharded and replicated pieces into two slots
// (trainer/optimizer.cpp). Called through kernels::cuda::kOps. Not here: the sqrt, clipping, the
// cross-rank sum.
//
// Two passes, no atomics, so the result is bit-identical from run to run (resume contract):
//   pass 1: a fixed number of blocks (a function of n only, not of the GPU) each sum a
//           grid-strided share of x^2 in double, per slot, and write one partial per slot;
//   pass 2: one block sums each slot's partials in a fixed tree order and adds them to out in
//           double, rounding once into fp32. The CPU rounds once per piece instead (as one
//           sum_squares per piece did), so for a slot of P pieces the two differ by at most about
//           (P + 1) fp32 roundings of the slot's sum: relative (P + 1) * 2^-24.
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

constexpr int kMaxSlots = 2;  // sums per call: sum_squares 1, sum_squares_multi up to 2

// Row r of a device segment table (kernels/segments.h): start, end, flag.
__device__ inline void segment_row(const uint32_t* table, int64_t r, int64_t* start, int64_t* end, uint32_t* flag) {
  const uint32_t* w = table + r * 4;
  *start = int64_t(uint64_t(w[0]) | (uint64_t(w[1]) << 32));
  *end = *start + int64_t(w[2]);
  *flag = w[3];
}

// partial[blockIdx.x * kMaxSlots + slot]: this block's sum of x^2 per slot. Without a table
// (segments null) every element goes to slot 0. With one, a thread finds the row of its first
// element by binary search over the ascending starts, then walks forward with its ascending
// elements; elements in no row (alignment gaps) are skipped.
template <class T>
__global__ void __launch_bounds__(kThreads)
    sum_squares_partial_kernel(double* partial, const T* x, int64_t n, const uint32_t* segments, int64_t rows) {
  __shared__ double shared[kThreads];
  double acc0 = 0, acc1 = 0;  // slots 0 and 1 (two scalars: a register each, no local array)
  const int64_t first = int64_t(blockIdx.x) * kThreads + threadIdx.x, stride = int64_t(gridDim.x) * kThreads;
  if (segments == nullptr) {
    for (int64_t i = first; i < n; i += stride) {
      const double v = to_float(x[i]);
      acc0 += v * v;
    }
  } else if (first < n) {
    int64_t lo = 0, hi = rows, start = 0, end = 0;  // the last row with start <= first: lo - 1
    uint32_t flag = 0;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      segment_row(segments, mid, &start, &end, &flag);
      if (start <= first) lo = mid + 1;
      else hi = mid;
    }
    int64_t r = lo - 1;
    start = end = 0;
    if (r >= 0) segment_row(segments, r, &start, &end, &flag);
    for (int64_t i = first; i < n; i += stride) {
      while (i >= end && r + 1 < rows) {
        int64_t s2, e2;
        uint32_t f2;
        segment_row(segments, r + 1, &s2, &e2, &f2);
        if (s2 > i) break;
        ++r, start = s2, end = e2, flag = f2;
      }
      if (i < start || i >= end) continue;  // before the first row, or in a gap
      const double v = to_float(x[i]);
      if (flag == 0) acc0 += v * v;
      else acc1 += v * v;
    }
  }
  for (int k = 0; k < kMaxSlots; ++k) {
    const double total = block_sum_double(k == 0 ? acc0 : acc1, shared);
    if (threadIdx.x == 0) partial[int64_t(blockIdx.x) * kMaxSlots + k] = total;
    __syncthreads();  // shared is reused by the next slot's reduction
  }
}

// out[k] += the sum of every block's partial of slot k, for the n_slots slots out holds.
__global__ void __launch_bounds__(kThreads)
    sum_squares_finish_kernel(float* out, const double* partial, int n_partial, int n_slots) {
  __shared__ double shared[kThreads];
  for (int k = 0; k < n_slots; ++k) {
    double acc = 0;
    for (int i = threadIdx.x; i < n_partial; i += kThreads) acc += partial[i * kMaxSlots + k];
    const double total = block_sum_double(acc, shared);
    if (threadIdx.x == 0) out[k] = float(double(out[k]) + total);
    __syncthreads();
  }
}

// acc[0] += (sum of losses) / count / divisor: one block (a micro-batch's B*T losses), the sum in
// double in a fixed tree order. Launched on the step's stream, so the host never waits for it.
__global__ void __launch_bounds__(kThreads)
    loss_mean_accumulate_kernel(double* acc, const float* losses, int64_t n, double count, double divisor) {
  __shared__ double shared[kThreads];
  double v = 0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) v += double(losses[i]);
  const double total = block_sum_double(v, shared);
  if (threadIdx.x == 0) acc[0] += (count > 0 ? total / count : 0.0) / divisor;
}

// Both passes over n elements of x into out's slots (segments null: all into out[0]).
void launch_sum_squares(const char* op, const Tensor& out, const Tensor& x, int64_t n, const uint32_t* segments,
                        int64_t rows, Stream s) {
  KILN_CHECK(out.dtype == DType::F32,
             op_msg(op, std::string("out must be fp32 on the GPU, got ") + dtype_name(out.dtype)));
  const int64_t blocks64 = ceil_div(n, kPerBlockMin);
  const int blocks = int(blocks64 < 1 ? 1 : (blocks64 > kMaxBlocks ? kMaxBlocks : blocks64));
  const cudaStream_t stream = cuda_stream(s);
  double* partial = static_cast<double*>(scratch(sizeof(double) * kMaxBlocks * kMaxSlots, stream));
  dispatch_float(op, "x", x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch<sum_squares_partial_kernel<T>>(op, blocks, kThreads, 0, stream, partial, ptr<T>(x), n, segments, rows);
  });
  launch<sum_squares_finish_kernel>(op, 1, kThreads, 0, stream, ptr<float>(out), partial, blocks, int(out.numel()));
}

}  // namespace

void sum_squares(Tensor out, Tensor x, Stream s) {
  const int64_t n = check_sum_squares(kDevice, out, x);
  launch_sum_squares("sum_squares", out, x, n, nullptr, 0, s);
}

// The table's contents stay on the device unread: its owner validated them when building it
// (kernels::encode_segments), flags included (below out's slot count).
void sum_squares_multi(Tensor out, Tensor x, Tensor segments, Stream s) {
  int64_t rows = 0;
  const int64_t n = check_sum_squares_multi(kDevice, out, x, segments, &rows);
  launch_sum_squares("sum_squares_multi", out, x, n, ptr<uint32_t>(segments), rows, s);
}

void loss_mean_accumulate(Tensor acc, Tensor losses, double count, double divisor, Stream s) {
  const char* op = "loss_mean_accumulate";
  const int64_t n = check_loss_mean_accumulate(kDevice, acc, losses, count, divisor);
  launch<loss_mean_accumulate_kernel>(op, 1, kThreads, 0, cuda_stream(s), ptr<double>(acc), ptr<float>(losses), n,
                                      count, divisor);
}

}  // namespace kernels::cuda
