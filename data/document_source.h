// data/document_source.h
// The inputs of `kiln prepare` as a stream of documents: text files (one document each, byte for
// byte), folders of them, JSONL files (one document per line, text in a string field) and
// standard input ("-", text or JSONL). Reading is streaming: a long text document arrives in
// slices cut where the tokenizer says it may cut, a JSONL file one line at a time, so memory does
// not grow with the input.
//
// Called by prepare() (list_inputs, before anything is written) and its reader thread
// (DocumentReader); jsonl_text() by the tokenizer workers. Does not tokenize, split train/val or
// write anything.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace data {

enum class InputFormat { kText, kJsonl };

struct InputFile {
  std::string path;  // "-" is standard input
  InputFormat format = InputFormat::kText;
};

// Expands the inputs in order: a folder contributes its regular files recursively, sorted by path
// (hidden names and an earlier prepare's output in out_dir skipped); a file named *.jsonl is JSONL,
// "-" is JSONL when stdin_jsonl, other files are text. Every file must exist and be non-empty.
// Throws InputError naming the input otherwise.
std::vector<InputFile> list_inputs(const std::vector<std::string>& inputs, const std::string& out_dir,
                                   bool stdin_jsonl);

// A piece of the input stream, in order. A text document is one chunk or several consecutive
// ones (starts_doc on the first, ends_doc on the last); a JSONL line is one chunk holding the raw
// line, parsed later by jsonl_text().
struct DocChunk {
  std::string bytes;
  bool jsonl = false;
  bool starts_doc = true, ends_doc = true;
  uint32_t input = 0;        // index into the list_inputs() result, for messages
  uint64_t line = 0;         // JSONL: 1-based line number
  uint64_t input_bytes = 0;  // bytes of input consumed (a JSONL line's newline included)
};

class DocumentReader {
 public:
  // cut(text) returns a p in [1, text.size()) where the text may be split without changing its
  // tokens, or 0 for none (Tokenizer::split_point). Text documents longer than slice_bytes are
  // delivered in slices cut there; with no such point the slice grows until one appears.
  DocumentReader(std::vector<InputFile> inputs, size_t slice_bytes,
                 std::function<size_t(std::string_view)> cut);
  ~DocumentReader();
  DocumentReader(const DocumentReader&) = delete;
  DocumentReader& operator=(const DocumentReader&) = delete;

  // Next chunk, or false at the end of the last input. Throws InputError on a read error or an
  // input found empty when read.
  bool next(DocChunk* chunk);
  const std::vector<InputFile>& inputs() const { return inputs_; }
  // "-" shows as "standard input" in messages.
  std::string display_name(uint32_t input) const;

 private:
  bool open_next();
  bool fill();  // reads more into buf_; false at end of file

  std::vector<InputFile> inputs_;
  size_t slice_bytes_;
  std::function<size_t(std::string_view)> cut_;
  size_t current_ = 0;          // index of the open input (== size when none left)
  std::FILE* file_ = nullptr;   // open input, or null before the first / between inputs
  bool eof_ = false;
  bool started_ = false;        // text: a slice of this document was delivered already
  uint64_t line_ = 0;           // JSONL: lines delivered
  uint64_t read_ = 0;           // bytes read from the open input
  std::string buf_;             // read but not yet delivered
  std::unique_ptr<char[]> scratch_;  // one read block
  size_t buf_pos_ = 0;          // JSONL: start of the undelivered part of buf_
};

// The text of one JSONL line: the string field `key` of the object on it. Returns false for a
// blank line (not a document). Throws InputError "FILE line N: ..." when the line is not a JSON
// object or `key` is missing or not a string.
bool jsonl_text(std::string_view line, const std::string& key, const std::string& file, uint64_t line_no,
                std::string* text);

}  // namespace data
