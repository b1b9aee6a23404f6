// data/document_source.cpp
// Listing the inputs of `kiln prepare`, reading them as a stream of chunks, and parsing a JSONL
// line (data/document_source.h).
//
// Called by prepare(): list_inputs() up front, so a missing or empty file is reported before any
// output exists; DocumentReader on the reader thread; jsonl_text() on the tokenizer workers. Reads
// with stdio in 1 MiB blocks and never holds more than one slice (or one JSONL line) plus one block
// of an input. JSONL goes through data/json_scan.h rather than a JSON library: bytes inside strings
// are taken as they are, so invalid UTF-8 in a document is tokenized like in a text file instead of
// failing the whole run (nlohmann::json rejects it), and only the wanted string is copied.
#include "data/document_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "data/json_scan.h"
#include "data/prepare_sink.h"
#include "kernels/check.h"

namespace data {
namespace fs = std::filesystem;

namespace {

constexpr size_t kReadBlock = size_t{1} << 20;

[[noreturn]] void bad(const std::string& msg) { throw kernels::InputError("prepare: " + msg); }

bool inside(const fs::path& p, const fs::path& dir) {
  return std::mismatch(dir.begin(), dir.end(), p.begin(), p.end()).first == dir.end();
}

// What an earlier prepare into `out` left there: its shards (and their .tmp files) and tokenizer
// folders. Re-running on a parent folder must not ingest them as documents. (The staging folder
// .kiln-prepare.tmp is hidden, so the hidden-name rule already skips it.)
bool is_prepare_output(const fs::path& p, const fs::path& out) {
  std::string n = p.filename().string();
  if (n.ends_with(".tmp")) n.resize(n.size() - 4);
  return (p.parent_path() == out && is_shard_name(n)) || inside(p, out / "tokenizer") ||
         inside(p, out / "tokenizer.tmp");
}

InputFormat format_of(const std::string& path) {
  return path.ends_with(".jsonl") ? InputFormat::kJsonl : InputFormat::kText;
}

}  // namespace

// A folder's files are sorted by path so the document indices (and so the split) do not depend on
// the filesystem's listing order. Hidden files and folders inside a folder (editor backups,
// .DS_Store, download markers) are never text a user meant to train on; a hidden file named
// directly as an input is still taken.
std::vector<InputFile> list_inputs(const std::vector<std::string>& inputs, const std::string& out_dir,
                                   bool stdin_jsonl) {
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(out_dir, ec);
  std::vector<InputFile> list;
  bool seen_stdin = false;
  for (const std::string& in : inputs) {
    if (in == "-") {
      if (seen_stdin) bad("input - (standard input) is given twice; it can be read only once");
      seen_stdin = true;
      list.push_back({in, stdin_jsonl ? InputFormat::kJsonl : InputFormat::kText});
      continue;
    }
    const fs::file_status st = fs::status(in, ec);
    if (!fs::exists(st)) bad("input " + in + " does not exist (expected a text file, a .jsonl file or a folder)");
    std::vector<std::string> files;
    if (fs::is_regular_file(st)) {
      files.push_back(in);
    } else if (fs::is_directory(st)) {
      for (fs::recursive_directory_iterator it(in, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ignore;  // a file that vanished mid-walk is simply not a document
        if (it->path().filename().string().starts_with(".")) {
          if (it->is_directory(ignore)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(ignore) && !is_prepare_output(fs::weakly_canonical(it->path(), ignore), out)) {
          files.push_back(it->path().string());
        }
      }
      if (ec) bad("cannot list input folder " + in + ": " + ec.message());
      if (files.empty()) bad("input folder " + in + " contains no files, so there is no text to prepare");
      std::sort(files.begin(), files.end());
    } else {
      bad("input " + in + " is neither a regular file nor a folder");
    }
    for (std::string& f : files) {
      const uintmax_t size = fs::file_size(f, ec);
      if (ec) bad("cannot read input file " + f + ": " + ec.message());
      if (size == 0) bad("input file " + f + " is empty (0 bytes); every document needs some text");
      const InputFormat fmt = format_of(f);
      list.push_back({std::move(f), fmt});
    }
  }
  if (list.empty()) bad("no inputs given (expected text files, .jsonl files, folders or -)");
  return list;
}

DocumentReader::DocumentReader(std::vector<InputFile> inputs, size_t slice_bytes,
                               std::function<size_t(std::string_view)> cut)
    : inputs_(std::move(inputs)), slice_bytes_(std::max<size_t>(slice_bytes, 1)), cut_(std::move(cut)) {}

DocumentReader::~DocumentReader() {
  if (file_ != nullptr && file_ != stdin) std::fclose(file_);
}

std::string DocumentReader::display_name(uint32_t input) const {
  return inputs_[input].path == "-" ? std::string("standard input") : inputs_[input].path;
}

bool DocumentReader::open_next() {
  if (current_ >= inputs_.size()) return false;
  const std::string& path = inputs_[current_].path;
  file_ = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) bad("cannot open input file " + path + ": " + std::strerror(errno));
  eof_ = started_ = false;
  line_ = read_ = 0;
  buf_.clear();
  buf_pos_ = 0;
  return true;
}

bool DocumentReader::fill() {
  if (eof_) return false;
  // Small slices (tests) read small blocks, so slicing really happens at their size.
  const size_t block = std::min(kReadBlock, slice_bytes_);
  // Through a scratch block, not buf_.resize(+block): that zero-fills 1 MiB per call, which for a
  // folder of small files cost more than reading them.
  if (!scratch_) scratch_ = std::make_unique<char[]>(kReadBlock);
  const size_t n = std::fread(scratch_.get(), 1, block, file_);
  buf_.append(scratch_.get(), n);
  read_ += n;
  if (n < block) {
    if (std::ferror(file_)) bad("cannot read input " + display_name(uint32_t(current_)) + ": " + std::strerror(errno));
    eof_ = true;
  }
  return n > 0;
}

bool DocumentReader::next(DocChunk* chunk) {
  for (;;) {
    if (file_ == nullptr && !open_next()) return false;
    const uint32_t input = uint32_t(current_);
    chunk->input = input;
    if (inputs_[input].format == InputFormat::kJsonl) {
      // One line per chunk. Look for '\n' only in bytes not yet searched; compact the buffer only
      // when a partial line is all that is left, so each byte is moved at most once per block.
      size_t searched = buf_pos_;
      size_t nl = buf_.find('\n', searched);
      while (nl == std::string::npos && !eof_) {
        buf_.erase(0, buf_pos_);
        buf_pos_ = 0;
        searched = buf_.size();
        fill();
        nl = buf_.find('\n', searched);
      }
      const size_t end = nl == std::string::npos ? buf_.size() : nl;
      if (end > buf_pos_ || nl != std::string::npos) {
        chunk->bytes.assign(buf_, buf_pos_, end - buf_pos_);
        chunk->jsonl = true;
        chunk->starts_doc = chunk->ends_doc = true;
        chunk->line = ++line_;
        chunk->input_bytes = end - buf_pos_ + (nl == std::string::npos ? 0 : 1);
        buf_pos_ = nl == std::string::npos ? buf_.size() : nl + 1;
        return true;
      }
    } else {
      // Text: read up to a slice; past that, deliver everything before the last safe cut.
      while (!eof_ && buf_.size() < slice_bytes_) fill();
      size_t cut = 0;
      if (!eof_) {
        // Only the newly read region needs searching (the cut rules look at most one code point,
        // 4 bytes, back), so an input with no cut point for a long stretch stays linear.
        size_t from = 0;
        while ((cut = cut_(std::string_view(buf_).substr(from))) == 0 && !eof_) {
          from = buf_.size() > 4 ? buf_.size() - 4 : 0;
          fill();
        }
        if (cut != 0) cut += from;
      }
      if (!buf_.empty() && (cut != 0 || eof_)) {
        const size_t n = cut != 0 ? cut : buf_.size();
        chunk->bytes.assign(buf_, 0, n);
        chunk->input_bytes = n;
        buf_.erase(0, n);
        chunk->jsonl = false;
        chunk->starts_doc = !started_;
        chunk->ends_doc = eof_ && buf_.empty();
        chunk->line = 0;
        started_ = true;
        return true;
      }
    }
    // End of this input.
    if (read_ == 0) {
      bad(inputs_[input].path == "-" ? std::string("input - (standard input) is empty; every document needs some text")
                                     : "input file " + inputs_[input].path + " is empty (0 bytes); every document needs some text");
    }
    if (file_ != stdin) std::fclose(file_);
    file_ = nullptr;
    ++current_;
  }
}

bool jsonl_text(std::string_view line, const std::string& key, const std::string& file, uint64_t line_no,
                std::string* text) {
  const std::string where = file + " line " + std::to_string(line_no);
  JsonScanner sc(line, where, "one JSON object per line");
  sc.ws();
  if (sc.at_end()) return false;  // blank line: no document
  if (sc.peek() != '{') sc.fail("not a JSON object");
  sc.expect('{');
  sc.ws();
  bool found = false;
  std::string name;
  while (sc.peek() != '}') {
    name.clear();
    sc.string(&name);
    sc.ws();
    sc.expect(':');
    sc.ws();
    if (name == key) {
      // A repeated key: the last one wins, as in JSON.parse and Python's json.
      if (sc.peek() != '"') {
        if (json_kind(sc.peek()) == nullptr) sc.fail("not valid JSON: expected a value");
        throw kernels::InputError(where + ": field \"" + key + "\" is " + json_kind(sc.peek()) +
                                  ", expected a string holding the document's text");
      }
      text->clear();
      sc.string(text);
      found = true;
    } else {
      sc.value(1);
    }
    sc.ws();
    if (sc.peek() == ',') {
      sc.expect(',');
      sc.ws();
      if (sc.peek() == '}') sc.fail("not valid JSON: trailing comma");
      continue;
    }
    if (sc.peek() != '}') sc.fail("not valid JSON: expected ',' or '}'");
  }
  sc.expect('}');
  sc.ws();
  if (!sc.at_end()) sc.fail("not valid JSON: more after the object (one object per line)");
  if (!found) {
    throw kernels::InputError(where + ": no field \"" + key +
                              "\" (expected the document's text there; --jsonl-key names the field)");
  }
  return true;
}

}  // namespace data
