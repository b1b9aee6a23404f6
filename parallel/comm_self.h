// parallel/comm_self.h
// The single-rank backend, and the argument checks every backend shares.
//
// SelfComm is the group of one: what a plain `kiln train` (no mpirun) gets as its world, so a
// one-process run never initialises MPI, and what a tp or dp group of size 1 becomes, so tp=1 or
// dp=1 costs nothing. Its answers are the n = 1 case of comm.h: all_reduce and broadcast leave
// the tensor as it is; all_gather and reduce_scatter copy `in` to `out` (unless they alias).
//
// detail::check_* are comm.h's contract in code (dtype, sizes, root, in-place forms). Every
// backend calls them first, so a caller's mistake fails the same way on one rank as on 512.
#pragma once

#include <cstddef>
#include <memory>

#include "parallel/comm.h"

namespace parallel {

// Copies `bytes` of device memory ordered on stream `s` (cudaMemcpyAsync). Given by the
// switchboard (groups.cpp) when CUDA is built; without it, device copies synchronize the device.
using DeviceCopyFn = void (*)(void* dst, const void* src, size_t bytes, Stream s);

class SelfComm final : public Comm {
 public:
  explicit SelfComm(DeviceCopyFn device_copy = nullptr) : device_copy_(device_copy) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* backend() const override { return "self"; }
  void all_reduce(Tensor t, ReduceOp op, Stream s) override;
  void all_gather(Tensor out, Tensor in, Stream s) override;
  void reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream s) override;
  void broadcast(Tensor t, int root, Stream s) override;
  void barrier() override {}
  // Every color forms a group of one: the result is another SelfComm with the same copy function.
  std::unique_ptr<Comm> split(int color, int key) override;

 private:
  void copy(Tensor out, Tensor in, Stream s);
  DeviceCopyFn device_copy_;
};

namespace detail {

const char* reduce_op_name(ReduceOp op);  // "sum", "avg", "max"

// Each fails (kernels::fail, exit 1) with "<backend>.<op>: ..." naming the sizes or dtypes that
// are wrong. These are caller bugs, not user input. n = the group size, r = this rank.
//   all_reduce:     dtype fp32/fp64/bf16/fp16/int32; int32 takes sum and max only.
//   all_gather:     same dtype and device; out.numel == n * in.numel; `in` either disjoint from
//                   `out` or exactly its r-th block (the in-place form NCCL and MPI both know).
//   reduce_scatter: as all_reduce for the dtype; in.numel == n * out.numel; `out` disjoint from
//                   `in` or exactly its r-th block.
//   broadcast:      0 <= root < n.
void check_all_reduce(const char* backend, const Tensor& t, ReduceOp op);
void check_all_gather(const char* backend, const Tensor& out, const Tensor& in, int n, int r);
void check_reduce_scatter(const char* backend, const Tensor& out, const Tensor& in, ReduceOp op, int n, int r);
void check_broadcast(const char* backend, const Tensor& t, int root, int n);

// True when `part` is exactly block r of `whole` (same memory, not a copy).
bool is_block_of(const Tensor& part, const Tensor& whole, int r);

}  // namespace detail

}  // namespace parallel
