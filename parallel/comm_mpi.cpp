// parallel/comm_mpi.cpp
// MpiComm: comm.h's collectives as MPI calls on host memory (declared in comm_mpi.h).
//
// Mapping (n = group size):
//   all_reduce      MPI_Allreduce(MPI_IN_PLACE, ...), in chunks of at most 2^30 elements
//                   (MPI counts are int); kAvg = MPI_SUM, then t /= n
//   all_gather      MPI_Allgather; MPI_IN_PLACE when `in` is already out's block r
//   reduce_scatter  MPI_Reduce_scatter_block; kAvg = MPI_SUM, then out /= n
//   broadcast       MPI_Bcast, chunked like all_reduce
//   split           MPI_Comm_split(color, key)
// bf16/fp16 have no MPI type: they travel as MPI_UINT16_T and reduce with user-defined ops that
// combine in fp32 and round to 16 bits once per combining step.
//
// Errors: communicators use MPI_ERRORS_RETURN, so a failing call comes back here and ends in
// kernels::fail with the rank prefix and MPI's own message, like every other failure in kiln.
#include "parallel/comm_mpi.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/check.h"
#include "kernels/tensor.h"
#include "parallel/comm_self.h"

#define KILN_MPI_CHECK(call)                                                      \
  do {                                                                            \
    const int e_ = (call);                                                        \
    if (e_ != MPI_SUCCESS) {                                                      \
      char msg_[MPI_MAX_ERROR_STRING] = {};                                       \
      int len_ = 0;                                                               \
      MPI_Error_string(e_, msg_, &len_);                                          \
      ::kernels::fail(#call, std::string(msg_, size_t(len_)), __FILE__, __LINE__); \
    }                                                                             \
  } while (0)

namespace parallel {

struct MpiComm::Handle {
  MPI_Comm comm = MPI_COMM_NULL;
};

namespace {

using kernels::Device;
using kernels::DType;

constexpr int64_t kMaxChunk = int64_t(1) << 30;  // elements per MPI call: below INT_MAX

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::I32: return MPI_INT32_T;
    case DType::U32: return MPI_UINT32_T;
    case DType::U16: return MPI_UINT16_T;
    case DType::BF16: case DType::F16: return MPI_UINT16_T;  // bits; reduced by the ops below
  }
  return MPI_DATATYPE_NULL;
}

// in/inout elementwise: inout = in (+ or max) inout, in fp32, rounded to H (round to nearest
// even, kernels/dtype.h). NaN propagates from either side, so a diverged rank is not hidden.
template <class H, bool kMax>
void half_combine(void* in, void* inout, int* len, MPI_Datatype*) {
  const H* a = static_cast<const H*>(in);
  H* b = static_cast<H*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = float(a[i]), y = float(b[i]);
    float r;
    if (kMax) r = (std::isnan(x) || x > y) ? x : y;
    else r = x + y;
    b[i] = H(r);
  }
}

// Created on first use, which is after MPI_Init (MpiComm::world checks that). commute = 1 lets
// MPI pick its fastest algorithm: fp addition is commutative (not associative, so the rounding
// may depend on the algorithm, as it does for MPI_SUM on floats and for NCCL).
struct HalfOps {
  MPI_Op bf16_sum, bf16_max, fp16_sum, fp16_max;
  HalfOps() {
    KILN_MPI_CHECK(MPI_Op_create(&half_combine<kernels::bf16, false>, 1, &bf16_sum));
    KILN_MPI_CHECK(MPI_Op_create(&half_combine<kernels::bf16, true>, 1, &bf16_max));
    KILN_MPI_CHECK(MPI_Op_create(&half_combine<kernels::fp16, false>, 1, &fp16_sum));
    KILN_MPI_CHECK(MPI_Op_create(&half_combine<kernels::fp16, true>, 1, &fp16_max));
  }
};

MPI_Op mpi_op(DType d, ReduceOp op) {
  const bool max = op == ReduceOp::kMax;  // kAvg sums, then divides
  if (d == DType::BF16 || d == DType::F16) {
    static const HalfOps ops;
    if (d == DType::BF16) return max ? ops.bf16_max : ops.bf16_sum;
    return max ? ops.fp16_max : ops.fp16_sum;
  }
  return max ? MPI_MAX : MPI_SUM;
}

template <class T>
void divide_as_float(Tensor t, int n) {
  T* p = static_cast<T*>(t.data);
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = T(float(p[i]) / float(n));
}

// The second half of kAvg. Division (not multiplication by 1/n) so that averages of integers
// that divide evenly are exact, whatever n is.
void divide_by(Tensor t, int n) {
  if (n == 1) return;
  switch (t.dtype) {
    case DType::F32: { float* p = t.as<float>(); for (int64_t i = 0; i < t.numel(); ++i) p[i] /= float(n); break; }
    case DType::F64: { double* p = t.as<double>(); for (int64_t i = 0; i < t.numel(); ++i) p[i] /= double(n); break; }
    case DType::BF16: divide_as_float<kernels::bf16>(t, n); break;
    case DType::F16: divide_as_float<kernels::fp16>(t, n); break;
    default: KILN_CHECK(false, std::string("mpi: avg of ") + kernels::dtype_name(t.dtype));
  }
}

int as_count(int64_t n, const char* op) {
  KILN_CHECK(n <= INT_MAX, std::string("mpi.") + op + ": " + std::to_string(n) + " elements per rank exceed MPI's int count");
  return int(n);
}

// A host copy of a device tensor. The device is synchronized first because the tensor's producer
// may still be running on a stream this backend knows nothing about.
kernels::OwnedTensor stage_to_host(const Tensor& t, bool fill) {
  kernels::OwnedTensor h(Device::kCpu, t.dtype, t.shape);
  if (fill) {
    kernels::device_synchronize(t.device);
    kernels::device_copy(h.t.data, Device::kCpu, t.data, t.device, t.nbytes());
  }
  return h;
}

void copy_back(const Tensor& dst, const Tensor& host) {
  kernels::device_copy(dst.data, dst.device, host.data, Device::kCpu, host.nbytes());
}

}  // namespace

MpiComm::MpiComm(std::unique_ptr<Handle> h, bool owned) : h_(std::move(h)), owned_(owned) {
  KILN_MPI_CHECK(MPI_Comm_rank(h_->comm, &rank_));
  KILN_MPI_CHECK(MPI_Comm_size(h_->comm, &size_));
}

std::unique_ptr<MpiComm> MpiComm::world() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  KILN_CHECK(initialized, "MpiComm::world: MPI is not initialised (launch::discover does it for runs "
                          "with more than one rank)");
  // Errors come back as codes (sub-communicators inherit this), so KILN_MPI_CHECK can report them.
  KILN_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  auto h = std::make_unique<Handle>();
  h->comm = MPI_COMM_WORLD;
  return std::unique_ptr<MpiComm>(new MpiComm(std::move(h), /*owned=*/false));
}

MpiComm::~MpiComm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  // After MPI_Finalize every communicator is gone already; freeing would be an error.
  if (owned_ && !finalized) MPI_Comm_free(&h_->comm);
}

void MpiComm::all_reduce(Tensor t, ReduceOp op, Stream) {
  detail::check_all_reduce("mpi", t, op);
  if (t.numel() == 0) return;  // same shapes on every rank: all of them skip
  if (t.device == Device::kCpu) return all_reduce_host(t, op);
  kernels::OwnedTensor h = stage_to_host(t, /*fill=*/true);
  all_reduce_host(h.t, op);
  copy_back(t, h.t);
}

void MpiComm::all_gather(Tensor out, Tensor in, Stream) {
  detail::check_all_gather("mpi", out, in, size_, rank_);
  if (in.numel() == 0) return;
  if (in.device == Device::kCpu) return all_gather_host(out, in);
  // `in` is copied before `out` is written, so the in-place form needs no special case here.
  kernels::OwnedTensor hin = stage_to_host(in, true), hout = stage_to_host(out, false);
  all_gather_host(hout.t, hin.t);
  copy_back(out, hout.t);
}

void MpiComm::reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream) {
  detail::check_reduce_scatter("mpi", out, in, op, size_, rank_);
  if (out.numel() == 0) return;
  if (in.device == Device::kCpu) return reduce_scatter_host(out, in, op);
  kernels::OwnedTensor hin = stage_to_host(in, true), hout = stage_to_host(out, false);
  reduce_scatter_host(hout.t, hin.t, op);
  copy_back(out, hout.t);
}

void MpiComm::broadcast(Tensor t, int root, Stream) {
  detail::check_broadcast("mpi", t, root, size_);
  if (t.numel() == 0) return;
  if (t.device == Device::kCpu) return broadcast_host(t, root);
  kernels::OwnedTensor h = stage_to_host(t, /*fill=*/rank_ == root);
  broadcast_host(h.t, root);
  copy_back(t, h.t);
}

void MpiComm::barrier() { KILN_MPI_CHECK(MPI_Barrier(h_->comm)); }

std::unique_ptr<Comm> MpiComm::split(int color, int key) {
  KILN_CHECK(color >= 0, "mpi.split: color " + std::to_string(color) + " < 0 (every rank must join a group)");
  auto h = std::make_unique<Handle>();
  KILN_MPI_CHECK(MPI_Comm_split(h_->comm, color, key, &h->comm));
  return std::unique_ptr<Comm>(new MpiComm(std::move(h), /*owned=*/true));
}

void MpiComm::all_reduce_host(Tensor t, ReduceOp op) {
  const MPI_Datatype type = mpi_type(t.dtype);
  const MPI_Op mop = mpi_op(t.dtype, op);
  char* base = static_cast<char*>(t.data);
  const size_t esize = kernels::dtype_size(t.dtype);
  for (int64_t off = 0; off < t.numel(); off += kMaxChunk) {
    const int count = int(std::min(kMaxChunk, t.numel() - off));
    KILN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, base + size_t(off) * esize, count, type, mop, h_->comm));
  }
  if (op == ReduceOp::kAvg) divide_by(t, size_);
}

void MpiComm::all_gather_host(Tensor out, Tensor in) {
  const MPI_Datatype type = mpi_type(in.dtype);
  const int count = as_count(in.numel(), "all_gather");
  const void* send = detail::is_block_of(in, out, rank_) ? MPI_IN_PLACE : in.data;
  KILN_MPI_CHECK(MPI_Allgather(send, count, type, out.data, count, type, h_->comm));
}

void MpiComm::reduce_scatter_host(Tensor out, Tensor in, ReduceOp op) {
  const MPI_Datatype type = mpi_type(in.dtype);
  const int count = as_count(out.numel(), "reduce_scatter");
  // MPI's in-place form of reduce_scatter puts the result at the start of the buffer, not at
  // block r, and send and receive buffers may not overlap: reduce into scratch, then copy.
  if (detail::is_block_of(out, in, rank_)) {
    std::vector<char> scratch(out.nbytes());
    KILN_MPI_CHECK(MPI_Reduce_scatter_block(in.data, scratch.data(), count, type, mpi_op(in.dtype, op), h_->comm));
    std::memcpy(out.data, scratch.data(), scratch.size());
  } else {
    KILN_MPI_CHECK(MPI_Reduce_scatter_block(in.data, out.data, count, type, mpi_op(in.dtype, op), h_->comm));
  }
  if (op == ReduceOp::kAvg) divide_by(out, size_);
}

void MpiComm::broadcast_host(Tensor t, int root) {
  const MPI_Datatype type = mpi_type(t.dtype);
  char* base = static_cast<char*>(t.data);
  const size_t esize = kernels::dtype_size(t.dtype);
  for (int64_t off = 0; off < t.numel(); off += kMaxChunk) {
    const int count = int(std::min(kMaxChunk, t.numel() - off));
    KILN_MPI_CHECK(MPI_Bcast(base + size_t(off) * esize, count, type, root, h_->comm));
  }
}

}  // namespace parallel
