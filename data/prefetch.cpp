// data/prefetch.cpp
// Prefetcher: one worker thread, a bounded queue of ready batches and a free list, so steady state
// allocates nothing (depth+1 buffers circulate between the worker and the caller).
#include "data/prefetch.h"

#include <utility>

namespace data {

Prefetcher::Prefetcher(Produce produce, int depth)
    : produce_(std::move(produce)), depth_(size_t(depth < 1 ? 1 : depth)) {
  worker_ = std::thread([this] { run(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  space_cv_.notify_all();
  worker_.join();
}

void Prefetcher::take(std::vector<int32_t>& out) {
  std::unique_lock<std::mutex> lock(mu_);
  ready_cv_.wait(lock, [&] { return !ready_.empty() || error_ != nullptr; });
  // Batches produced before the failure are still good and come first: the caller's state then
  // points exactly at the batch that failed.
  if (ready_.empty()) std::rethrow_exception(error_);
  std::swap(out, ready_.front());
  free_.push_back(std::move(ready_.front()));
  ready_.pop_front();
  lock.unlock();
  space_cv_.notify_one();
}

void Prefetcher::run() {
  std::vector<int32_t> buf;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      space_cv_.wait(lock, [&] { return stop_ || ready_.size() < depth_; });
      if (stop_) return;
      if (!free_.empty()) {
        buf = std::move(free_.back());
        free_.pop_back();
      }
    }
    // Outside the lock: reading is the slow part, and take() must not wait for it.
    try {
      produce_(buf);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
      ready_cv_.notify_all();
      return;  // the sequence cannot continue past a batch that failed
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(std::move(buf));
      buf = {};
    }
    ready_cv_.notify_one();
  }
}

}  // namespace data
