// data/prepare_pipeline.cpp
// run_tokenize_pipeline() (data/prepare_pipeline.h): reader thread -> worker threads -> the
// calling thread, with one mutex and three condition variables.
//
// Ordering: the reader numbers batches 0, 1, 2, ...; workers finish them in any order into a map
// keyed by that number; the consumer takes number k only after k-1. Errors travel the same way, as
// a batch carrying an exception, so the error reported is the first one in input order, not the
// first one some thread happened to hit.
// Bounding: the reader takes a slot before reading a batch and the consumer frees it after
// consuming one, so batches in the queue, in workers and in the result map never exceed kSlots.
#include "data/prepare_pipeline.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

namespace data {
namespace {

constexpr size_t kMaxChunksPerBatch = 8192;  // many tiny JSONL lines still make modest batches
// Text in flight (queued, being tokenized, tokenized and waiting for its turn) stays under this
// whatever the thread count: batches shrink as slots grow. Its ids take at most 4x as much again
// (a token covers at least one byte), ~1.2x for English.
constexpr size_t kInFlightBytes = size_t{16} << 20;
constexpr size_t kMinBatchBytes = size_t{64} << 10;

uint64_t pipeline_slots(int threads) { return 2 * uint64_t(std::max(1, threads)) + 2; }

struct Result {
  std::vector<TokenizedChunk> chunks;
  std::exception_ptr error;
};

struct Shared {
  std::mutex mu;
  std::condition_variable work_ready, result_ready, slot_free;
  std::deque<std::pair<uint64_t, std::vector<DocChunk>>> work;
  std::map<uint64_t, Result> done;
  uint64_t in_flight = 0;      // batches taken by the reader and not yet consumed
  uint64_t total = 0;          // number of batches, valid once reader_done
  bool reader_done = false;
  bool stop = false;           // the consumer gave up: everyone leaves
};

Result tokenize_batch(const std::vector<DocChunk>& batch, const DocumentReader& reader, const Tokenizer& tok,
                      const std::string& key) {
  Result r;
  r.chunks.resize(batch.size());
  std::string text;
  const int eot = tok.eot_token();
  for (size_t i = 0; i < batch.size(); ++i) {
    const DocChunk& c = batch[i];
    TokenizedChunk& t = r.chunks[i];
    t.starts_doc = c.starts_doc;
    t.ends_doc = c.ends_doc;
    t.input_bytes = c.input_bytes;
    if (c.jsonl) {
      t.empty_doc = !jsonl_text(c.bytes, key, reader.display_name(c.input), c.line, &text) || text.empty();
      if (!t.empty_doc) t.ids = tok.encode(text);
    } else {
      t.ids = tok.encode(c.bytes);
    }
    if (!t.empty_doc && c.ends_doc && eot >= 0) t.ids.push_back(uint32_t(eot));
  }
  return r;
}

}  // namespace

size_t pipeline_batch_bytes(int threads, size_t max_batch_bytes) {
  return std::max(kMinBatchBytes, std::min(max_batch_bytes, size_t(kInFlightBytes / pipeline_slots(threads))));
}

void run_tokenize_pipeline(DocumentReader& reader, const Tokenizer& tok, const PipelineOptions& opt,
                           const std::function<void(std::vector<TokenizedChunk>& batch)>& consume) {
  const int threads = std::max(1, opt.threads);
  const uint64_t slots = pipeline_slots(threads);
  const size_t batch_bytes = pipeline_batch_bytes(threads, opt.batch_bytes);
  Shared sh;

  // The joiner exists before any thread starts: whatever happens below (a thread that fails to
  // start included), every started thread is told to stop and joined before this function returns.
  std::thread reader_thread;
  std::vector<std::thread> workers;
  struct Joiner {
    Shared& sh;
    std::thread& reader;
    std::vector<std::thread>& workers;
    ~Joiner() {
      {
        std::lock_guard<std::mutex> lk(sh.mu);
        sh.stop = true;
      }
      sh.work_ready.notify_all();
      sh.slot_free.notify_all();
      sh.result_ready.notify_all();
      if (reader.joinable()) reader.join();
      for (std::thread& t : workers) t.join();
    }
  } joiner{sh, reader_thread, workers};
  // A failed start (the system's thread limit) is an error with the count, not std::terminate.
  const auto start = [&](const char* what, auto&& fn) {
    try {
      return std::thread(std::forward<decltype(fn)>(fn));
    } catch (const std::system_error& e) {
      throw std::runtime_error(std::string("prepare: cannot start the ") + what + " thread (" +
                               std::to_string(workers.size()) + " of " + std::to_string(threads) +
                               " workers running): " + e.what());
    }
  };

  reader_thread = start("reader", [&] {
    uint64_t seq = 0;
    try {
      for (bool more = true; more;) {
        {
          std::unique_lock<std::mutex> lk(sh.mu);
          sh.slot_free.wait(lk, [&] { return sh.stop || sh.in_flight < slots; });
          if (sh.stop) break;
          ++sh.in_flight;
        }
        std::vector<DocChunk> batch;
        size_t bytes = 0;
        while (bytes < batch_bytes && batch.size() < kMaxChunksPerBatch) {
          DocChunk c;
          if (!reader.next(&c)) {
            more = false;
            break;
          }
          bytes += c.bytes.size();
          batch.push_back(std::move(c));
        }
        std::lock_guard<std::mutex> lk(sh.mu);
        if (batch.empty()) {
          --sh.in_flight;  // the slot was not needed
        } else {
          sh.work.emplace_back(seq++, std::move(batch));
          sh.work_ready.notify_one();
        }
      }
    } catch (...) {
      // Delivered in order as batch `seq`; everything before it is still consumed first.
      std::lock_guard<std::mutex> lk(sh.mu);
      sh.done[seq++].error = std::current_exception();
      sh.result_ready.notify_all();
    }
    std::lock_guard<std::mutex> lk(sh.mu);
    sh.total = seq;
    sh.reader_done = true;
    sh.work_ready.notify_all();
    sh.result_ready.notify_all();
  });

  workers.reserve(size_t(threads));
  for (int w = 0; w < threads; ++w) {
    workers.push_back(start("tokenizer", [&] {
      for (;;) {
        std::pair<uint64_t, std::vector<DocChunk>> job;
        {
          std::unique_lock<std::mutex> lk(sh.mu);
          sh.work_ready.wait(lk, [&] { return sh.stop || !sh.work.empty() || sh.reader_done; });
          if (sh.stop || sh.work.empty()) return;  // reader_done and nothing left
          job = std::move(sh.work.front());
          sh.work.pop_front();
        }
        Result r;
        try {
          r = tokenize_batch(job.second, reader, tok, opt.jsonl_key);
        } catch (...) {
          r.chunks.clear();
          r.error = std::current_exception();
        }
        job.second = {};  // drop the text before queueing the ids
        std::lock_guard<std::mutex> lk(sh.mu);
        sh.done[job.first] = std::move(r);
        sh.result_ready.notify_all();
      }
    }));
  }

  for (uint64_t seq = 0;; ++seq) {
    Result r;
    {
      std::unique_lock<std::mutex> lk(sh.mu);
      sh.result_ready.wait(lk, [&] { return sh.done.count(seq) > 0 || (sh.reader_done && seq >= sh.total); });
      if (sh.done.count(seq) == 0) break;  // all batches consumed
      r = std::move(sh.done[seq]);
      sh.done.erase(seq);
      --sh.in_flight;
    }
    sh.slot_free.notify_one();
    if (r.error) std::rethrow_exception(r.error);
    consume(r.chunks);
  }
}

}  // namespace data
