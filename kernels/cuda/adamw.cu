// kernels/cuda/adamw.cu
// One fused AdamW step on the GPU: reads grad, m, v, master once, writes m, v, master and the
// optional compute-precision copy (bf16/fp16/fp32, rounded to nearest even). Called through
// kernels::cuda::kOps by trainer/optimizer.cpp: adamw_update_multi once per step over the whole
// owned range, each element's weight decay read from the segment table (kernels/segments.h);
// adamw_update is the same kernel over one tensor with one weight decay (no table).
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

// Row r of a device segment table: [start, start + length) and its flag.
struct DeviceSegment {
  int64_t start, end;
  uint32_t flag;
};
__device__ inline DeviceSegment segment_row(const uint32_t* table, int64_t r) {
  const uint32_t* w = table + r * 4;
  const int64_t start = int64_t(uint64_t(w[0]) | (uint64_t(w[1]) << 32));
  return {start, start + int64_t(w[2]), w[3]};
}

// The last row whose start is <= i (-1 if none): binary search over the ascending starts.
__device__ inline int64_t last_segment_at_or_before(const uint32_t* table, int64_t rows, int64_t i) {
  int64_t lo = 0, hi = rows;  // answer in [lo - 1, hi - 1]
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (segment_row(table, mid).start <= i) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

// The update of element i with weight decay wd.
template <class C>
__device__ inline void adamw_element(float* param, C* compute, const float* grad, float* m, float* v, int64_t i,
                                     float wd, const AdamWConsts& k) {
  const float g = __fmul_rn(grad[i], k.gs);
  const float mi = __fadd_rn(__fmul_rn(k.b1, m[i]), __fmul_rn(k.one_minus_b1, g));
  const float vi = __fadd_rn(__fmul_rn(k.b2, v[i]), __fmul_rn(__fmul_rn(k.one_minus_b2, g), g));  // ((1-b2) g) g
  const float mhat = __fdiv_rn(mi, k.bc1);
  const float vhat = __fdiv_rn(vi, k.bc2);
  const float p = param[i];
  const float update = __fadd_rn(__fdiv_rn(mhat, __fadd_rn(__fsqrt_rn(vhat), k.eps)), __fmul_rn(wd, p));
  const float pn = __fsub_rn(p, __fmul_rn(k.lr, update));
  m[i] = mi;
  v[i] = vi;
  param[i] = pn;
  if (compute != nullptr) compute[i] = from_float<C>(pn);
}

// Grid-stride over n elements. Without a table (segments null) every element is updated with k.wd;
// with one, element i belongs to the row found by binary search for the thread's first element and
// then by walking forward (a thread's elements ascend, so it walks each row at most once): k.wd
// where the row's flag is 1, none where 0, and elements in no row (alignment gaps) are skipped.
// compute may be null (no separate compute copy).
template <class C>
__global__ void adamw_kernel(float* param, C* compute, const float* grad, float* m, float* v, int64_t n,
                             const uint32_t* segments, int64_t rows, AdamWConsts k) {
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;
  if (segments == nullptr) {
    for (int64_t i = first; i < n; i += stride) adamw_element(param, compute, grad, m, v, i, k.wd, k);
    return;
  }
  if (first >= n) return;
  int64_t r = last_segment_at_or_before(segments, rows, first);
  DeviceSegment seg = r >= 0 ? segment_row(segments, r) : DeviceSegment{0, 0, 0};
  for (int64_t i = first; i < n; i += stride) {
    while (i >= seg.end && r + 1 < rows && segment_row(segments, r + 1).start <= i) seg = segment_row(segments, ++r);
    if (i < seg.start || i >= seg.end) continue;  // before the first row, or in a gap
    adamw_element(param, compute, grad, m, v, i, seg.flag ? k.wd : 0.f, k);
  }
}

}  // namespace

namespace {

// The fp32 state checks of both entry points (the GPU keeps fp32 optimizer state).
void check_gpu_state(const char* op, const Tensor& master, const Tensor& compute, const Tensor& grad, const Tensor& m,
                     const Tensor& v) {
  KILN_CHECK(master.dtype != DType::F64, op_msg(op,
                                                "master is fp64: fp64 runs only on the CPU backend "
                                                "(gradient checks); the CUDA backend keeps fp32 masters"));
  for (const NamedTensor& t :
       {NamedTensor{"master", &master}, NamedTensor{"grad", &grad}, NamedTensor{"m", &m}, NamedTensor{"v", &v}})
    KILN_CHECK(t.t->dtype == DType::F32, op_msg(op, std::string(t.name) + " is " + dtype_name(t.t->dtype) +
                                                        "; optimizer state is fp32 on the GPU"));
  if (!compute.empty()) check_compute_dtype(op, "compute", compute.dtype);
}

// One launch of adamw_kernel over n elements (segments null: one weight decay for all).
void launch_adamw(const char* op, const Tensor& master, const Tensor& compute, const Tensor& grad, const Tensor& m,
                  const Tensor& v, int64_t n, const uint32_t* segments, int64_t rows, const AdamWArgs& args,
                  Stream s) {
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
  if (n == 0 || (segments != nullptr && rows == 0)) return;
  const cudaStream_t stream = cuda_stream(s);
  const unsigned blocks = grid_for(n, kThreads);
  if (compute.empty()) {
    launch<adamw_kernel<float>>(op, blocks, kThreads, 0, stream, ptr<float>(master), nullptr, ptr<float>(grad),
                                ptr<float>(m), ptr<float>(v), n, segments, rows, k);
  } else {
    dispatch_float(op, "compute", compute.dtype, [&](auto tag) {
      using C = decltype(tag);
      launch<adamw_kernel<C>>(op, blocks, kThreads, 0, stream, ptr<float>(master), ptr<C>(compute), ptr<float>(grad),
                              ptr<float>(m), ptr<float>(v), n, segments, rows, k);
    });
  }
}

}  // namespace

void adamw_update(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, AdamWArgs args, Stream s) {
  const char* op = "adamw_update";
  const int64_t n = check_adamw_update(kDevice, master, compute, grad, m, v, args);
  check_gpu_state(op, master, compute, grad, m, v);
  launch_adamw(op, master, compute, grad, m, v, n, nullptr, 0, args, s);
}

// The table's contents stay on the device unread: its owner validated them when building it
// (kernels::encode_segments); the kernel never reads outside [0, n) whatever they say.
void adamw_update_multi(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, Tensor segments,
                        AdamWArgs args, Stream s) {
  const char* op = "adamw_update_multi";
  int64_t rows = 0;
  const int64_t n = check_adamw_update_multi(kDevice, master, compute, grad, m, v, segments, args, &rows);
  check_gpu_state(op, master, compute, grad, m, v);
  launch_adamw(op, master, compute, grad, m, v, n, ptr<uint32_t>(segments), rows, args, s);
}

}  // namespace kernels::cuda
