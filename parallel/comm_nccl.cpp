// parallel/comm_nccl.cpp
// NcclComm (declared in comm_nccl.h): comm.h's collectives as NCCL calls on device memory,
// ordered against the caller's stream by events. Compiled only when CUDA (and so NCCL) is built
// (parallel/CMakeLists.txt); groups.cpp is the one place that decides to construct it.
//
// The CUDA and NCCL calls themselves live in the CUDA plugin (kernels/cuda/nccl_cuda.cu and
// plugin.cu, reached through kernels/cuda_plugin.h), so this file includes no CUDA header and
// kiln links no CUDA library: NCCL is loaded only when a GPU run builds its groups. Argument
// checks, bootstrap and the stream ordering below are the policy, and stay here.
#include "parallel/comm_nccl.h"

#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "kernels/check.h"
#include "kernels/cuda_plugin.h"
#include "parallel/comm_self.h"

namespace parallel {

namespace {

using kernels::DType;

kernels::NcclReduce nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return kernels::NcclReduce::kSum;
    case ReduceOp::kAvg: return kernels::NcclReduce::kAvg;
    case ReduceOp::kMax: return kernels::NcclReduce::kMax;
  }
  return kernels::NcclReduce::kSum;
}

void require_device(const char* op, const Tensor& t) {
  KILN_CHECK(t.device == kernels::Device::kCuda,
             std::string("nccl.") + op + ": tensor is in host memory (the MPI backend moves host tensors)");
}

}  // namespace

NcclComm::NcclComm(std::unique_ptr<Comm> host) : host_(std::move(host)) {
  KILN_CHECK(host_ != nullptr, "NcclComm: no host communicator to bootstrap over");
  rank_ = host_->rank();
  size_ = host_->size();

  // Rank 0 makes the id; the host communicator carries it (128 bytes as 32 uint32 words).
  const kernels::CudaPlugin& cu = kernels::cuda_plugin();
  device_ = cu.get_device();
  KILN_CHECK(cu.nccl_id_bytes % 4 == 0 && cu.nccl_id_bytes <= 1024, "nccl: unexpected unique id size");
  std::vector<uint32_t> id(cu.nccl_id_bytes / 4, 0);
  if (rank_ == 0) cu.nccl_unique_id(id.data());
  Tensor id_t{id.data(), DType::U32, kernels::Device::kCpu, kernels::Shape{int64_t(id.size())}};
  host_->broadcast(id_t, 0, Stream::host());
  comm_ = cu.nccl_comm_init(size_, id.data(), rank_);

  // Non-blocking: the comm stream must not serialize with the legacy default stream, or every
  // collective would wait for (and block) unrelated work. Events without timing are cheaper.
  stream_ = cu.stream_create_nonblocking();
  ready_ = cu.event_create();
  done_ = cu.event_create();
}

NcclComm::~NcclComm() {
  watcher_.reset();  // joins the watcher thread before the handles it polls go away
  // Destructors must not abort (they also run while a failure unwinds): the plugin's destroy
  // calls ignore errors. ncclCommDestroy waits for the communicator's outstanding work.
  const kernels::CudaPlugin& cu = kernels::cuda_plugin();
  cu.nccl_comm_destroy(comm_);
  cu.event_destroy(ready_);
  cu.event_destroy(done_);
  cu.stream_destroy(stream_);
}

// Step 1: the comm stream waits (on the GPU, not the host) for what the caller queued before.
// One event suffices for every call: cudaStreamWaitEvent captures the event's latest record at
// the time it is called, so re-recording it for the next collective does not disturb this one.
void NcclComm::begin(Stream caller) {
  const kernels::CudaPlugin& cu = kernels::cuda_plugin();
  cu.event_record(ready_, caller);
  cu.stream_wait_event(Stream{stream_}, ready_);
}

// Step 3: whatever the caller queues next on its stream runs after the collective.
void NcclComm::end(Stream caller) {
  const kernels::CudaPlugin& cu = kernels::cuda_plugin();
  cu.event_record(done_, Stream{stream_});
  cu.stream_wait_event(caller, done_);
}

void NcclComm::all_reduce(Tensor t, ReduceOp op, Stream s) {
  detail::check_all_reduce("nccl", t, op);
  if (t.numel() == 0) return;
  require_device("all_reduce", t);
  begin(s);
  kernels::cuda_plugin().nccl_all_reduce(t.data, size_t(t.numel()), t.dtype, nccl_op(op), comm_, stream_);
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
  kernels::cuda_plugin().nccl_all_gather(in.data, out.data, in.nbytes(), comm_, stream_);
  watch("all_gather");
  end(s);
}

void NcclComm::reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream s) {
  detail::check_reduce_scatter("nccl", out, in, op, size_, rank_);
  if (out.numel() == 0) return;
  require_device("reduce_scatter", in);
  begin(s);
  kernels::cuda_plugin().nccl_reduce_scatter(in.data, out.data, size_t(out.numel()), in.dtype, nccl_op(op), comm_,
                                             stream_);
  watch("reduce_scatter");
  end(s);
}

void NcclComm::broadcast(Tensor t, int root, Stream s) {
  detail::check_broadcast("nccl", t, root, size_);
  if (t.numel() == 0) return;
  require_device("broadcast", t);
  begin(s);
  // Bytes, whatever the dtype: a broadcast does no arithmetic.
  kernels::cuda_plugin().nccl_broadcast(t.data, t.nbytes(), root, comm_, stream_);
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
  const std::string bus = kernels::cuda_plugin().pci_bus_id();
  std::snprintf(mine, sizeof(mine), "%s|%s", hostname, bus.c_str());

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
  kernels::cuda_plugin().copy_device_async(dst, src, bytes, s);
}

}  // namespace parallel
