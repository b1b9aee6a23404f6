// kernels/segments.cpp
// Building and checking segment tables (segments.h). Called by trainer/optimizer (once per run),
// the multi-tensor op checks (kernels/op_checks.cpp) and tests.
#include "kernels/segments.h"

#include <string>

#include "kernels/check.h"
#include "kernels/op_checks.h"

namespace kernels {

namespace {

// The one rule set, for pieces given as values (encode) or read back from a table (check).
void check_piece(const char* op, const Segment& p, int64_t index, int64_t prev_end, int64_t n, uint32_t flag_limit) {
  const std::string at = "segment " + std::to_string(index) + " [" + std::to_string(p.start) + ", +" +
                         std::to_string(p.length) + ")";
  KILN_CHECK(p.start >= prev_end, op_msg(op, at + " starts before the previous segment ends (" +
                                                 std::to_string(prev_end) + "): segments must ascend, disjoint"));
  KILN_CHECK(p.length >= 0 && p.start + p.length <= n,
             op_msg(op, at + " is outside the range of " + std::to_string(n) + " elements"));
  KILN_CHECK(p.length < (int64_t(1) << 32), op_msg(op, at + " is longer than a table row holds (2^32 - 1)"));
  KILN_CHECK(p.flag < flag_limit, op_msg(op, at + " has flag " + std::to_string(p.flag) + ", expected below " +
                                                 std::to_string(flag_limit)));
}

}  // namespace

std::vector<uint32_t> encode_segments(const std::vector<Segment>& pieces, int64_t n, uint32_t flag_limit) {
  std::vector<uint32_t> words;
  int64_t prev_end = 0, index = 0;
  for (const Segment& p : pieces) {
    check_piece("encode_segments", p, index++, prev_end, n, flag_limit);
    if (p.length == 0) continue;
    words.insert(words.end(), {uint32_t(uint64_t(p.start)), uint32_t(uint64_t(p.start) >> 32), uint32_t(p.length),
                               p.flag});
    prev_end = p.start + p.length;
  }
  return words;
}

int64_t check_segment_table_shape(const char* op, const Tensor& segments, Device dev) {
  check_present(op, "segments", segments, dev);
  KILN_CHECK(segments.dtype == DType::U32,
             op_msg(op, std::string("segments must be uint32, got ") + dtype_name(segments.dtype)));
  KILN_CHECK(segments.shape.ndim == 2 && segments.shape[1] == kSegmentWords,
             op_msg(op, "segments must be (S, 4) {start lo, start hi, length, flag}, got " + segments.shape.str()));
  return segments.shape[0];
}

void check_segment_table_rows(const char* op, const uint32_t* table, int64_t rows, int64_t n, uint32_t flag_limit) {
  int64_t prev_end = 0;
  for (int64_t s = 0; s < rows; ++s) {
    const Segment p = segment_at(table, s);
    check_piece(op, p, s, prev_end, n, flag_limit);
    prev_end = p.start + p.length;
  }
}

}  // namespace kernels
