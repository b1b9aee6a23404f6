// kernels/cuda/nccl_cuda.cu
// The NCCL calls behind parallel::NcclComm (kernels/cuda/nccl_cuda.h), inside the CUDA plugin so
// that NCCL is loaded only with it. No policy here: argument checks, bootstrap over MPI and stream
// ordering live in parallel/comm_nccl.cpp.
//
// Mapping: fp32 ncclFloat32, fp64 ncclFloat64, bf16 ncclBfloat16, fp16 ncclFloat16, int32
// ncclInt32; all_gather and broadcast move bytes (ncclUint8), so any dtype travels; kSum ncclSum,
// kMax ncclMax, kAvg ncclAvg (NCCL divides by n itself).
#include <nccl.h>

#include <cstring>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/nccl_cuda.h"

#define KILN_NCCL_CHECK(call)                                                                  \
  do {                                                                                         \
    const ncclResult_t r_ = (call);                                                            \
    if (r_ != ncclSuccess) ::kernels::fail(#call, ncclGetErrorString(r_), __FILE__, __LINE__); \
  } while (0)

namespace kernels::cuda {
namespace {

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::BF16: return ncclBfloat16;
    case DType::F16: return ncclFloat16;
    case DType::I32: return ncclInt32;
    case DType::U16: case DType::U32: break;  // never reduced (parallel's checks); moved as bytes
  }
  KILN_CHECK(false, std::string("nccl: no reduction type for ") + dtype_name(d));
  return ncclFloat32;
}

ncclRedOp_t nccl_op(NcclReduce op) {
  switch (op) {
    case NcclReduce::kSum: return ncclSum;
    case NcclReduce::kAvg: return ncclAvg;
    case NcclReduce::kMax: return ncclMax;
  }
  return ncclSum;
}

ncclComm_t as_comm(void* c) { return static_cast<ncclComm_t>(c); }
cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace

size_t nccl_id_bytes() { return sizeof(ncclUniqueId); }

void nccl_unique_id(void* id) {
  ncclUniqueId u;
  std::memset(&u, 0, sizeof(u));
  KILN_NCCL_CHECK(ncclGetUniqueId(&u));
  std::memcpy(id, &u, sizeof(u));
}

void* nccl_comm_init(int size, const void* id, int rank) {
  ncclUniqueId u;
  std::memcpy(&u, id, sizeof(u));
  ncclComm_t comm = nullptr;
  KILN_NCCL_CHECK(ncclCommInitRank(&comm, size, u, rank));
  return comm;
}

void nccl_comm_destroy(void* comm) {
  // ncclCommDestroy finalizes first, which waits for the communicator's outstanding work.
  if (comm != nullptr) (void)ncclCommDestroy(as_comm(comm));
}

void nccl_all_reduce(void* buf, size_t count, DType dtype, NcclReduce op, void* comm, void* stream) {
  KILN_NCCL_CHECK(ncclAllReduce(buf, buf, count, nccl_type(dtype), nccl_op(op), as_comm(comm), as_stream(stream)));
}

void nccl_all_gather(const void* in, void* out, size_t bytes, void* comm, void* stream) {
  KILN_NCCL_CHECK(ncclAllGather(in, out, bytes, ncclUint8, as_comm(comm), as_stream(stream)));
}

void nccl_reduce_scatter(const void* in, void* out, size_t count, DType dtype, NcclReduce op, void* comm,
                         void* stream) {
  KILN_NCCL_CHECK(
      ncclReduceScatter(in, out, count, nccl_type(dtype), nccl_op(op), as_comm(comm), as_stream(stream)));
}

void nccl_broadcast(void* buf, size_t bytes, int root, void* comm, void* stream) {
  KILN_NCCL_CHECK(ncclBroadcast(buf, buf, bytes, ncclUint8, root, as_comm(comm), as_stream(stream)));
}

std::string nccl_async_error(void* comm) {
  ncclResult_t async = ncclSuccess;
  if (comm == nullptr || ncclCommGetAsyncError(as_comm(comm), &async) != ncclSuccess) return "";
  if (async == ncclSuccess || async == ncclInProgress) return "";
  return std::string("ncclCommGetAsyncError: ") + ncclGetErrorString(async);
}

void nccl_comm_abort(void* comm) {
  if (comm != nullptr) (void)ncclCommAbort(as_comm(comm));
}

}  // namespace kernels::cuda
