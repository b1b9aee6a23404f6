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
//
// Watchdog (parallel/watchdog.h): once a group is given an armed watchdog, each collective is
// issued in its non-blocking form (MPI_Iallreduce, MPI_Iallgather, MPI_Ireduce_scatter_block,
// MPI_Ibcast, MPI_Ibarrier) and completed by detail::mpi_wait under the deadline; without one, the
// blocking calls above run as before. The group key the query protocol names groups by is 1 for
// MPI_COMM_WORLD and, for a split, a hash of (parent key, how many splits the parent made before,
// color): the same on every member (a split is collective over the parent) and different for
// sibling groups.
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
#include "parallel/mpi_watch.h"

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
  uint64_t splits = 0;  // splits made from this communicator so far (for the children's keys)
  detail::MpiWatch watch;
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

uint64_t mix_key(uint64_t a, uint64_t b) {  // splitmix64 of a combination: a stable 64-bit hash
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E5ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

// One collective: `blocking` when no watchdog is armed; otherwise `start` (its non-blocking form,
// filling the request) and a wait under the deadline. `what` names the call in error messages.
template <class Blocking, class Start>
void MpiComm::collective(const char* op, const char* what, Blocking&& blocking, Start&& start) {
  detail::MpiWatch& w = h_->watch;
  if (!w.on()) {
    const int e = blocking();
    if (e != MPI_SUCCESS) fail_mpi(what, e);
    return;
  }
  MPI_Request req = MPI_REQUEST_NULL;
  const int e = start(&req);
  if (e != MPI_SUCCESS) fail_mpi(what, e);
  detail::mpi_wait(req, w, op, w.dog->next_seq(w.key));
}

void MpiComm::fail_mpi(const char* what, int err) {
  char msg[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(err, msg, &len);
  ::kernels::fail(what, std::string(msg, size_t(len)), __FILE__, __LINE__);
}

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
  h->watch.key = 1;
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

void MpiComm::barrier() {
  MPI_Comm c = h_->comm;
  collective("barrier", "MPI_Barrier", [&] { return MPI_Barrier(c); }, [&](MPI_Request* r) { return MPI_Ibarrier(c, r); });
}

void MpiComm::set_watchdog(std::shared_ptr<Watchdog> w, const std::string& name) {
  detail::MpiWatch& watch = h_->watch;
  watch.dog = std::move(w);
  watch.name = name;
  // Group rank -> world rank, for the queries (a local call: no communication).
  MPI_Group mine = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
  KILN_MPI_CHECK(MPI_Comm_group(h_->comm, &mine));
  KILN_MPI_CHECK(MPI_Comm_group(MPI_COMM_WORLD, &world));
  std::vector<int> ranks(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r) ranks[size_t(r)] = r;
  watch.world_ranks.assign(size_t(size_), -1);
  KILN_MPI_CHECK(MPI_Group_translate_ranks(mine, size_, ranks.data(), world, watch.world_ranks.data()));
  MPI_Group_free(&mine);
  MPI_Group_free(&world);
}

std::unique_ptr<Comm> MpiComm::split(int color, int key) {
  KILN_CHECK(color >= 0, "mpi.split: color " + std::to_string(color) + " < 0 (every rank must join a group)");
  auto h = std::make_unique<Handle>();
  KILN_MPI_CHECK(MPI_Comm_split(h_->comm, color, key, &h->comm));
  h->watch.key = mix_key(mix_key(h_->watch.key, h_->splits++), uint64_t(color));
  std::unique_ptr<MpiComm> child(new MpiComm(std::move(h), /*owned=*/true));
  // A watched group's subgroups are watched too (arm_watchdog renames dp and tp).
  if (h_->watch.dog) child->set_watchdog(h_->watch.dog, h_->watch.name + "/" + std::to_string(color));
  return child;
}

void MpiComm::all_reduce_host(Tensor t, ReduceOp op) {
  const MPI_Datatype type = mpi_type(t.dtype);
  const MPI_Op mop = mpi_op(t.dtype, op);
  char* base = static_cast<char*>(t.data);
  const size_t esize = kernels::dtype_size(t.dtype);
  for (int64_t off = 0; off < t.numel(); off += kMaxChunk) {
    const int count = int(std::min(kMaxChunk, t.numel() - off));
    void* p = base + size_t(off) * esize;
    MPI_Comm c = h_->comm;
    collective("all_reduce", "MPI_Allreduce",
               [&] { return MPI_Allreduce(MPI_IN_PLACE, p, count, type, mop, c); },
               [&](MPI_Request* r) { return MPI_Iallreduce(MPI_IN_PLACE, p, count, type, mop, c, r); });
  }
  if (op == ReduceOp::kAvg) divide_by(t, size_);
}

void MpiComm::all_gather_host(Tensor out, Tensor in) {
  const MPI_Datatype type = mpi_type(in.dtype);
  const int count = as_count(in.numel(), "all_gather");
  const void* send = detail::is_block_of(in, out, rank_) ? MPI_IN_PLACE : in.data;
  MPI_Comm c = h_->comm;
  collective("all_gather", "MPI_Allgather",
             [&] { return MPI_Allgather(send, count, type, out.data, count, type, c); },
             [&](MPI_Request* r) { return MPI_Iallgather(send, count, type, out.data, count, type, c, r); });
}

void MpiComm::reduce_scatter_host(Tensor out, Tensor in, ReduceOp op) {
  const MPI_Datatype type = mpi_type(in.dtype);
  const int count = as_count(out.numel(), "reduce_scatter");
  // MPI's in-place form of reduce_scatter puts the result at the start of the buffer, not at
  // block r, and send and receive buffers may not overlap: reduce into scratch, then copy.
  const bool in_place = detail::is_block_of(out, in, rank_);
  std::vector<char> scratch(in_place ? out.nbytes() : 0);
  void* dst = in_place ? scratch.data() : out.data;
  const MPI_Op mop = mpi_op(in.dtype, op);
  MPI_Comm c = h_->comm;
  collective("reduce_scatter", "MPI_Reduce_scatter_block",
             [&] { return MPI_Reduce_scatter_block(in.data, dst, count, type, mop, c); },
             [&](MPI_Request* r) { return MPI_Ireduce_scatter_block(in.data, dst, count, type, mop, c, r); });
  if (in_place) std::memcpy(out.data, scratch.data(), scratch.size());
  if (op == ReduceOp::kAvg) divide_by(out, size_);
}

void MpiComm::broadcast_host(Tensor t, int root) {
  const MPI_Datatype type = mpi_type(t.dtype);
  char* base = static_cast<char*>(t.data);
  const size_t esize = kernels::dtype_size(t.dtype);
  for (int64_t off = 0; off < t.numel(); off += kMaxChunk) {
    const int count = int(std::min(kMaxChunk, t.numel() - off));
    void* p = base + size_t(off) * esize;
    MPI_Comm c = h_->comm;
    collective("broadcast", "MPI_Bcast", [&] { return MPI_Bcast(p, count, type, root, c); },
               [&](MPI_Request* r) { return MPI_Ibcast(p, count, type, root, c, r); });
  }
}

}  // namespace parallel
