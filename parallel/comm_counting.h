// parallel/comm_counting.h
// A Comm decorator that counts what passes through it: the payload bytes handed to each kind of
// collective. Used to measure (not estimate) the communication of a training step, and by the
// test that checks the written formula against it (docs/COMMUNICATION.md). Header-only.
#pragma once

#include <cstdint>
#include <memory>

#include "parallel/comm.h"

namespace parallel {

struct CommCounts {
  int64_t all_reduce_bytes = 0, all_gather_bytes = 0, reduce_scatter_bytes = 0, broadcast_bytes = 0;
  int64_t calls = 0;
  int64_t total() const { return all_reduce_bytes + all_gather_bytes + reduce_scatter_bytes + broadcast_bytes; }
};

class CountingComm : public Comm {
 public:
  explicit CountingComm(std::unique_ptr<Comm> inner) : inner_(std::move(inner)) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  const char* backend() const override { return inner_->backend(); }
  // Payload = the bytes of this rank's buffer each call is about (the input of all_gather, the
  // input of reduce_scatter, the tensor of all_reduce/broadcast).
  void all_reduce(Tensor t, ReduceOp op, Stream s) override {
    counts_.all_reduce_bytes += int64_t(t.nbytes()), ++counts_.calls;
    inner_->all_reduce(t, op, s);
  }
  void all_gather(Tensor out, Tensor in, Stream s) override {
    counts_.all_gather_bytes += int64_t(in.nbytes()), ++counts_.calls;
    inner_->all_gather(out, in, s);
  }
  void reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream s) override {
    counts_.reduce_scatter_bytes += int64_t(in.nbytes()), ++counts_.calls;
    inner_->reduce_scatter(out, in, op, s);
  }
  void broadcast(Tensor t, int root, Stream s) override {
    counts_.broadcast_bytes += int64_t(t.nbytes()), ++counts_.calls;
    inner_->broadcast(t, root, s);
  }
  void barrier() override { inner_->barrier(); }
  std::unique_ptr<Comm> split(int color, int key) override { return inner_->split(color, key); }
  void set_watchdog(std::shared_ptr<Watchdog> w, const std::string& name) override {
    inner_->set_watchdog(std::move(w), name);
  }
  const CommCounts& counts() const { return counts_; }
  void reset() { counts_ = {}; }

 private:
  std::unique_ptr<Comm> inner_;
  CommCounts counts_;
};

}  // namespace parallel
