// kernels/segments.h
// The segment table of the multi-tensor ops (kernels/ops.h: adamw_update_multi, sum_squares_multi):
// which elements of a flat range belong to which parameter piece, and the piece's flag (weight decay
// on or off; the norm slot it adds to). Built and validated once on the host (trainer/optimizer's
// constructor) and copied to where the op runs, so a step neither allocates nor uploads anything.
// Plain C++: included by the CPU backend, the CUDA launchers (.cu) and their callers.
//
// Row s of the (S, 4) uint32 table: {start low 32 bits, start high 32 bits, length, flag}; starts are
// element offsets within the range. uint32 words because kiln's tensors have no int64 dtype and a
// range (a Llama-7B arena at tp=1) can pass 2^31 elements; one piece (one parameter) stays below 2^32.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace kernels {

inline constexpr int kSegmentWords = 4;

struct Segment {
  int64_t start = 0;   // first element, within the range
  int64_t length = 0;  // elements
  uint32_t flag = 0;   // the op's per-piece choice (decay on/off, norm slot)
};

// The table words for `pieces` over a range of n elements. Fails (a caller's bug) unless the pieces
// ascend, do not overlap, lie inside [0, n), are shorter than 2^32 and have flag < flag_limit.
// Empty pieces are dropped.
std::vector<uint32_t> encode_segments(const std::vector<Segment>& pieces, int64_t n, uint32_t flag_limit);

// Row s of a table in host memory.
inline Segment segment_at(const uint32_t* table, int64_t s) {
  const uint32_t* r = table + s * kSegmentWords;
  return {int64_t(uint64_t(r[0]) | (uint64_t(r[1]) << 32)), int64_t(r[2]), r[3]};
}

// Shape and dtype of a segment table passed to op `op` (any backend; the contents stay unread).
// Returns the row count S.
int64_t check_segment_table_shape(const char* op, const Tensor& segments, Device dev);
// The contents of a host table against a range of n elements, with the rules of encode_segments
// (the CPU backend reads the table, so it checks it; the GPU trusts the table its owner built).
void check_segment_table_rows(const char* op, const uint32_t* table, int64_t rows, int64_t n, uint32_t flag_limit);

}  // namespace kernels
