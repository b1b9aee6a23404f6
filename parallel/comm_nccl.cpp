// parallel/comm_nccl.cpp
// NcclComm (declared in comm_nccl.h): comm.h's collectives as NCCL calls on device memory,
// ordered against the caller's stream by events. Compiled only when CUDA (and so NCCL) is built
// (parallel/CMakeLists.txt); groups.cpp is the one place that decides to construct it.
//
// Mapping: fp32 ncclFloat32, fp64 ncclFloat64, bf16 ncclBfloat16, fp16 ncclFloat16,
// int32 ncclInt32; all_gather and broadcast move bytes (ncclUint8), so any dtype travels;
// kSum ncclSum, kMax ncclMax, kAvg ncclAvg (NCCL divides by n itself).
#include "parallel/comm_nccl.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "kernels/check.h"
#include "parallel/comm_self.h"

#define KILN_CUDA_CHECK_NCCLCOMM(call)                                                       \
  do {                                                                                       \
    const cudaError_t e_ = (call);                                                           \
    if (e_ != cudaSuccess) ::kernels::fail(#call, cudaGetErrorString(e_), __FILE__, __LINE__); \
  } while (0)

#define KILN_NCCL_CHECK(call)                                                                  \
  do {                                                                                         \
    const ncclResult_t r_ = (call);                                                            \
    if (r_ != ncclSuccess) ::kernels::fail(#call, ncclGetErrorString(r_), __FILE__, __LINE__); \
  } while (0)

namespace parallel {

namespace {

using kernels::DType;

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::BF16: return ncclBfloat16;
    case DType::F16: return ncclFloat16;
    case DType::I32: return ncclInt32;
    case DType::U16: case DType::U32: break;  // never reduced (detail::check_*); moved as bytes
  }
  KILN_CHECK(false, std::string("nccl: no reduction type for ") + kernels::dtype_name(d));
  return ncclFloat32;
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAvg: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
  }
  return ncclSum;
}

cudaStream_t cuda_stream(Stream s) { return static_cast<cudaStream_t>(s.handle); }

void require_device(const char* op, const Tensor& t) {
  KILN_CHECK(t.device == kernels::Device::kCuda,
             std::string("nccl.") + op + ": tensor is in host memory (the MPI backend moves host tensors)");
}

}  // namespace

NcclComm::NcclComm(std::unique_ptr<Comm> host) : host_(std::move(host)) {
  KILN_CHECK(host_ != nullptr, "NcclComm: no host communicator to bootstrap over");
  rank_ = host_->rank();
  size_ = host_->size();
  KILN_CUDA_CHECK_NCCLCOMM(cudaGetDevice(&device_));

  // Rank 0 makes the id; the host communicator carries it (128 bytes as 32 uint32 words).
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (rank_ == 0) KILN_NCCL_CHECK(ncclGetUniqueId(&id));
  static_assert(sizeof(ncclUniqueId) % 4 == 0, "unique id travels as uint32 words");
  Tensor id_t{&id, DType::U32, kernels::Device::kCpu, kernels::Shape{int64_t(sizeof(id) / 4)}};
  host_->broadcast(id_t, 0, Stream::host());

  ncclComm_t comm = nullptr;
  KILN_NCCL_CHECK(ncclCommInitRank(&comm, size_, id, rank_));
  comm_ = comm;

  // Non-blocking: the comm stream must not serialize with the legacy default stream, or every
  // collective would wait for (and block) unrelated work. Events without timing are cheaper.
  cudaStream_t stream = nullptr;
  KILN_CUDA_CHECK_NCCLCOMM(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  stream_ = stream;
  cudaEvent_t ready = nullptr, done = nullptr;
  KILN_CUDA_CHECK_NCCLCOMM(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  KILN_CUDA_CHECK_NCCLCOMM(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  ready_ = ready;
  done_ = done;
}

NcclComm::~NcclComm() {
  watcher_.reset();  // joins the watcher thread before the handles it polls go away
  // Destructors must not abort (they also run while a failure unwinds): errors are ignored.
  // ncclCommDestroy finalizes first, which waits for the communicator's outstanding work.
  if (comm_ != nullptr) (void)ncclCommDestroy(static_cast<ncclComm_t>(comm_));
  if (ready_ != nullptr) (void)cudaEventDestroy(static_cast<cudaEvent_t>(ready_));
  if (done_ != nullptr) (void)cudaEventDestroy(static_cast<cudaEvent_t>(done_));
  if (stream_ != nullptr) (void)cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}

// Step 1: the comm stream waits (on the GPU, not the host) for what the caller queued before.
// One event suffices for every call: cudaStreamWaitEvent captures the event's latest record at
// the time it is called, so re-recording it for the next collective does not disturb this one.
void NcclComm::begin(Stream caller) {
  KILN_CUDA_CHECK_NCCLCOMM(cudaEventRecord(static_cast<cudaEvent_t>(ready_), cuda_stream(caller)));
  KILN_CUDA_CHECK_NCCLCOMM(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream_), static_cast<cudaEvent_t>(ready_), 0));
}

// Step 3: whatever the caller queues next on its stream runs after the collective.
void NcclComm::end(Stream caller) {
  KILN_CUDA_CHECK_NCCLCOMM(cudaEventRecord(static_cast<cudaEvent_t>(done_), static_cast<cudaStream_t>(stream_)));
  KILN_CUDA_CHECK_NCCLCOMM(cudaStreamWaitEvent(cuda_stream(caller), static_cast<cudaEvent_t>(done_), 0));
}

void NcclComm::all_reduce(Tensor t, ReduceOp op, Stream s) {
  detail::check_all_reduce("nccl", t, op);
  if (t.numel() == 0) return;
  require_device("all_reduce", t);
  begin(s);
  KILN_NCCL_CHECK(ncclAllReduce(t.data, t.data, size_t(t.numel()), nccl_type(t.dtype), nccl_op(op),
                                static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(stream_)));
  watch("all_reduce");
  end(s);
}

void NcclComm::all_gather(Tensor out, Tensor in, Stream s) {
  detail::check_all_gather("nccl", out, in, size_, rank_);
  if (in.numel() == 0) return;
  require_device("all_gather", in);
  begin(s);
  // Bytes, whatever the dtype (no arithmetic). NCCL's in-place form is exactly comm.h's:
  // in == out's block r, which holds for byte offsets as for element offsets.
  KILN_NCCL_CHECK(ncclAllGather(in.data, out.data, in.nbytes(), ncclUint8,
                                static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(stream_)));
  watch("all_gather");
  end(s);
}

void NcclComm::reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream s) {
  detail::check_reduce_scatter("nccl", out, in, op, size_, rank_);
  if (out.numel() == 0) return;
  require_device("reduce_scatter", in);
  begin(s);
  KILN_NCCL_CHECK(ncclReduceScatter(in.data, out.data, size_t(out.numel()), nccl_type(in.dtype), nccl_op(op),
                                    static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(stream_)));
  watch("reduce_scatter");
  end(s);
}

void NcclComm::broadcast(Tensor t, int root, Stream s) {
  detail::check_broadcast("nccl", t, root, size_);
  if (t.numel() == 0) return;
  require_device("broadcast", t);
  begin(s);
  // Bytes, whatever the dtype: a broadcast does no arithmetic.
  KILN_NCCL_CHECK(ncclBroadcast(t.data, t.data, t.nbytes(), ncclUint8, root, static_cast<ncclComm_t>(comm_),
                                static_cast<cudaStream_t>(stream_)));
  watch("broadcast");
  end(s);
}

void NcclComm::barrier() { host_->barrier(); }

std::unique_ptr<Comm> NcclComm::split(int color, int key) {
  // The MPI split fixes membership and rank order; the new NcclComm gets its own unique id over it.
  return std::make_unique<NcclComm>(host_->split(color, key));
}

bool NcclComm::gpus_distinct(Comm& host) {
  // One 128-byte record per rank: "hostname|pci bus id", gathered over the host communicator.
  constexpr int kWords = 32;
  char mine[kWords * 4] = {};
  char hostname[64] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  int dev = 0;
  char bus[32] = {};
  KILN_CUDA_CHECK_NCCLCOMM(cudaGetDevice(&dev));
  KILN_CUDA_CHECK_NCCLCOMM(cudaDeviceGetPCIBusId(bus, sizeof(bus), dev));
  std::snprintf(mine, sizeof(mine), "%s|%s", hostname, bus);

  const int n = host.size();
  std::string all(size_t(n) * sizeof(mine), '\0');
  Tensor in{mine, DType::U32, kernels::Device::kCpu, kernels::Shape{kWords}};
  Tensor out{all.data(), DType::U32, kernels::Device::kCpu, kernels::Shape{int64_t(n) * kWords}};
  host.all_gather(out, in, Stream::host());

  std::set<std::string> seen;
  for (int r = 0; r < n; ++r) seen.insert(std::string(all.c_str() + size_t(r) * sizeof(mine)));
  return int(seen.size()) == n;
}

void nccl_device_copy(void* dst, const void* src, size_t bytes, Stream s) {
  KILN_CUDA_CHECK_NCCLCOMM(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream(s)));
}

}  // namespace parallel
