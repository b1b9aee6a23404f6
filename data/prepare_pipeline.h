// data/prepare_pipeline.h
// The threads of `kiln prepare`: one reader (DocumentReader), N tokenizer workers, and the
// calling thread as the ordered consumer. Results reach the consumer in input order whatever the
// thread count, so the shards are byte-identical for --threads 1 and --threads 16.
//
// Called by prepare(). Memory is bounded: at most 2*threads+2 batches exist at once (the reader
// waits for the consumer when that many are in flight), each ~batch_bytes of text and then its ids,
// with batch_bytes lowered so that all of them hold at most 16 MiB of text whatever the thread
// count (but never below 64 KiB). A chunk is never split, so prepare() slices text documents at
// pipeline_batch_bytes() too.
// Does not split train/val or write files: that is the consumer's job.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/document_source.h"
#include "data/tokenizer.h"

namespace data {

struct TokenizedChunk {
  std::vector<uint32_t> ids;    // the chunk's tokens, plus EOT when it ends a document
  bool starts_doc = true, ends_doc = true;
  bool empty_doc = false;       // a JSONL line without text (blank, or ""): not a document
  uint64_t input_bytes = 0;
};

struct PipelineOptions {
  int threads = 1;              // tokenizer workers (>= 1)
  size_t batch_bytes = size_t{1} << 20;
  std::string jsonl_key = "text";
};

// The text per batch run_tokenize_pipeline() aims for with `threads` workers: max_batch_bytes,
// lowered to keep the in-flight total bounded.
size_t pipeline_batch_bytes(int threads, size_t max_batch_bytes);

// Runs the pipeline to the end of the input. `consume` is called on the calling thread with each
// batch, in order. The first error in input order (a bad JSONL line, an unreadable file), or an
// exception from `consume`, stops every thread and is rethrown here.
void run_tokenize_pipeline(DocumentReader& reader, const Tokenizer& tok, const PipelineOptions& opt,
                           const std::function<void(std::vector<TokenizedChunk>& batch)>& consume);

}  // namespace data
