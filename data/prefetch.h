// data/prefetch.h
// A background thread that keeps the next few batches ready, in order.
//
// Used by TrainLoader (data/loader.cpp): the loader hands it a `produce` function that fills the
// next batch of its sequence, and takes batches on the caller's thread. Knows nothing about shards
// or positions: the loader keeps the state of what was *taken* (for checkpoints), while `produce`
// owns the state of what was *produced*, touched only on the worker thread. Does not reorder,
// retry or skip: a failure stops production, and the failure is what the caller sees once the
// batches produced before it have been taken.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace data {

class Prefetcher {
 public:
  // Fills the vector (any prior size/contents) with the next batch of the sequence; may throw.
  using Produce = std::function<void(std::vector<int32_t>&)>;

  // Starts the worker at once; it produces until `depth` batches wait untaken.
  Prefetcher(Produce produce, int depth);
  // Stops and joins. A produce() already running finishes its batch first (bounded work, no
  // waiting on the consumer), so destruction never hangs.
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Swaps the next batch into `out` (its old buffer is recycled for production). Blocks until one
  // is ready. Once the worker failed and every earlier batch is taken, rethrows the worker's
  // exception (the same object, so an InputError stays an InputError), on this and every later call.
  void take(std::vector<int32_t>& out);

 private:
  void run();

  Produce produce_;
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable ready_cv_;  // worker -> consumer: a batch or an error arrived
  std::condition_variable space_cv_;  // consumer/destructor -> worker: room in the queue, or stop
  std::deque<std::vector<int32_t>> ready_;  // produced, not yet taken, in sequence order
  std::vector<std::vector<int32_t>> free_;  // taken buffers coming back for reuse
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread worker_;  // last: starts after everything it uses is constructed
};

}  // namespace data
