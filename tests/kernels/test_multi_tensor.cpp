// tests/kernels/test_multi_tensor.cpp
// The multi-tensor ops of the CPU backend (kernels/ops.h: adamw_update_multi, sum_squares_multi)
// against the per-piece ops they replace in trainer/optimizer: bit for bit, over segment tables of
// awkward lengths (1, 63, 64, 65, 1000 elements), alignment gaps between pieces (left untouched),
// a range that starts and ends inside a piece (a ZeRO-1 block), decay on and off, fp32 and bf16
// compute copies, fp64 state; and segment tables that break the rules, refused with the op's name.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/segments.h"
#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

// Pieces of awkward lengths with gaps between some, inside a range of n elements; flags alternate
// in an irregular pattern so neighbours differ and equal.
std::vector<Segment> awkward_pieces(int64_t* n) {
  std::vector<Segment> p;
  int64_t at = 0;
  const int64_t lengths[] = {1, 63, 64, 65, 1000, 7, 129, 3};
  const int64_t gaps[] = {0, 1, 0, 63, 0, 5, 0, 2};
  const uint32_t flags[] = {1, 0, 0, 1, 1, 0, 1, 1};
  for (int i = 0; i < 8; ++i) {
    at += gaps[i];
    p.push_back({at, lengths[i], flags[i]});
    at += lengths[i];
  }
  *n = at + 11;  // a tail after the last piece, in no piece
  return p;
}

// Elements [begin, begin + n) of a vector, as a 1-D tensor.
template <class E>
Tensor view_span(std::vector<E>& v, int64_t begin, int64_t n) {
  Tensor t;
  t.data = v.data() + begin;
  t.dtype = dtype_of<E>();
  t.shape = Shape{n};
  return t;
}

std::vector<float> zerosf(int64_t n) { return std::vector<float>(size_t(n), 0.f); }

Tensor table_view(std::vector<uint32_t>& words) {
  return view(words, {int64_t(words.size()) / kSegmentWords, kSegmentWords});
}

// The multi op over a table and one adamw_update per piece (the old optimizer loop) agree exactly;
// elements outside every piece are untouched.
template <class Compute>
void check_adamw_multi_matches_pieces(const std::vector<Segment>& pieces, int64_t n) {
  std::vector<float> p0 = convert<float>(randn(n, 11)), g = convert<float>(randn(n, 12, 0.3));
  std::vector<float> m0 = convert<float>(randn(n, 13, 0.01)), v0 = std::vector<float>(size_t(n));
  for (int64_t i = 0; i < n; ++i) v0[size_t(i)] = 1e-4f * float(i % 17) + 1e-6f;
  AdamWArgs a;
  a.lr = 3e-3f;
  a.weight_decay = 0.1f;
  a.grad_scale = 0.7f;
  a.step = 5;
  std::vector<uint32_t> words = encode_segments(pieces, n, 2);
  constexpr bool kSeparate = !std::is_same_v<Compute, float>;
  std::vector<float> p1 = p0, m1 = m0, v1 = v0, p2 = p0, m2 = m0, v2 = v0;
  std::vector<Compute> c1(size_t(n), Compute(0.f)), c2 = c1;
  const auto compute_view = [&](std::vector<Compute>& c, int64_t b, int64_t len) {
    return kSeparate ? view_span(c, b, len) : Tensor{};
  };
  cpu_ops().adamw_update_multi(view(p1, {n}), kSeparate ? view(c1, {n}) : Tensor{}, view(g, {n}), view(m1, {n}),
                               view(v1, {n}), table_view(words), a, Stream::host());
  for (const Segment& s : pieces) {
    AdamWArgs ai = a;
    ai.weight_decay = s.flag ? a.weight_decay : 0.f;
    cpu_ops().adamw_update(view_span(p2, s.start, s.length), compute_view(c2, s.start, s.length),
                           view_span(g, s.start, s.length), view_span(m2, s.start, s.length),
                           view_span(v2, s.start, s.length), ai, Stream::host());
  }
  EXPECT_EQ(0, std::memcmp(p1.data(), p2.data(), p1.size() * 4)) << "master";
  EXPECT_EQ(0, std::memcmp(m1.data(), m2.data(), m1.size() * 4)) << "m";
  EXPECT_EQ(0, std::memcmp(v1.data(), v2.data(), v1.size() * 4)) << "v";
  if (kSeparate) {
    EXPECT_EQ(0, std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(Compute))) << "compute";
  }
  // Gaps and the tail: untouched (compute stays 0, master its initial value).
  std::vector<bool> covered(size_t(n), false);
  for (const Segment& s : pieces)
    for (int64_t i = s.start; i < s.start + s.length; ++i) covered[size_t(i)] = true;
  int changed = 0, untouched_gaps = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (covered[size_t(i)]) changed += p1[size_t(i)] != p0[size_t(i)];
    else untouched_gaps += p1[size_t(i)] == p0[size_t(i)] && m1[size_t(i)] == m0[size_t(i)];
  }
  EXPECT_GT(changed, 0);
  EXPECT_EQ(untouched_gaps, std::count(covered.begin(), covered.end(), false));
}

TEST(MultiTensor, AdamWEqualsOneUpdatePerPieceFp32) {
  int64_t n = 0;
  const std::vector<Segment> pieces = awkward_pieces(&n);
  check_adamw_multi_matches_pieces<float>(pieces, n);
}

TEST(MultiTensor, AdamWEqualsOneUpdatePerPieceBf16Copy) {
  int64_t n = 0;
  const std::vector<Segment> pieces = awkward_pieces(&n);
  check_adamw_multi_matches_pieces<bf16>(pieces, n);
}

// A ZeRO-1 block: the range starts 30 elements into one piece and ends 20 into another; the table
// holds the clipped pieces, offsets relative to the block.
TEST(MultiTensor, AdamWRangeStartingAndEndingMidPiece) {
  int64_t n_all = 0;
  const std::vector<Segment> all = awkward_pieces(&n_all);
  const int64_t begin = all[1].start + 30, end = all[6].start + 20;
  std::vector<Segment> clipped;
  for (const Segment& s : all) {
    const int64_t b = std::max(begin, s.start), e = std::min(end, s.start + s.length);
    if (b < e) clipped.push_back({b - begin, e - b, s.flag});
  }
  ASSERT_EQ(clipped.front().length, all[1].length - 30);
  ASSERT_EQ(clipped.back().length, 20);
  check_adamw_multi_matches_pieces<bf16>(clipped, end - begin);
}

// fp64 state (gradient checks) goes through the reference kernel piece by piece too.
TEST(MultiTensor, AdamWFp64State) {
  int64_t n = 0;
  const std::vector<Segment> pieces = awkward_pieces(&n);
  std::vector<uint32_t> words = encode_segments(pieces, n, 2);
  std::vector<double> p1 = randn(n, 21), g = randn(n, 22), m1 = zeros(n), v1 = zeros(n);
  std::vector<double> p2 = p1, m2 = m1, v2 = v1;
  AdamWArgs a;
  a.lr = 0.01f;
  a.weight_decay = 0.5f;
  cpu_ops().adamw_update_multi(view(p1, {n}), Tensor{}, view(g, {n}), view(m1, {n}), view(v1, {n}),
                               table_view(words), a, Stream::host());
  for (const Segment& s : pieces) {
    AdamWArgs ai = a;
    ai.weight_decay = s.flag ? a.weight_decay : 0.f;
    cpu_ops().adamw_update(view_span(p2, s.start, s.length), Tensor{}, view_span(g, s.start, s.length),
                           view_span(m2, s.start, s.length), view_span(v2, s.start, s.length), ai, Stream::host());
  }
  EXPECT_EQ(0, std::memcmp(p1.data(), p2.data(), p1.size() * 8));
}

// sum_squares_multi: slot per flag, each piece's sum rounded into its slot exactly as one
// sum_squares call per piece; gaps (filled with large values here) never counted.
TEST(MultiTensor, SumSquaresEqualsOneCallPerPiece) {
  int64_t n = 0;
  std::vector<Segment> pieces = awkward_pieces(&n);
  pieces.push_back({n, 40000, 0});  // one piece over several 2^14-element blocks
  n += 40000 + 3;
  std::vector<float> x = convert<float>(randn(n, 31));
  std::vector<bool> covered(size_t(n), false);
  for (const Segment& s : pieces)
    for (int64_t i = s.start; i < s.start + s.length; ++i) covered[size_t(i)] = true;
  for (int64_t i = 0; i < n; ++i)
    if (!covered[size_t(i)]) x[size_t(i)] = 1e6f;
  std::vector<uint32_t> words = encode_segments(pieces, n, 2);
  std::vector<float> got = {0.5f, 0.25f}, want = got;
  cpu_ops().sum_squares_multi(view(got, {2}), view(x, {n}), table_view(words), Stream::host());
  for (const Segment& s : pieces)
    cpu_ops().sum_squares(view_span(want, s.flag, 1), view_span(x, s.start, s.length), Stream::host());
  EXPECT_EQ(got[0], want[0]);
  EXPECT_EQ(got[1], want[1]);
  EXPECT_LT(got[0], 1e5f) << "a gap was counted";
  // bf16 x: the reference path.
  std::vector<bf16> xb = to_low<bf16>(convert<float>(randn(n, 32)));
  std::vector<float> gotb = {0.f, 0.f}, wantb = gotb;
  cpu_ops().sum_squares_multi(view(gotb, {2}), view(xb, {n}), table_view(words), Stream::host());
  for (const Segment& s : pieces)
    cpu_ops().sum_squares(view_span(wantb, s.flag, 1), view_span(xb, s.start, s.length), Stream::host());
  EXPECT_EQ(gotb[0], wantb[0]);
  EXPECT_EQ(gotb[1], wantb[1]);
}

TEST(MultiTensorDeathTest, BadSegmentTablesAreRefusedWithTheOpName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(encode_segments({{0, 10, 0}, {5, 10, 0}}, 100, 2), ::testing::ExitedWithCode(1),
              "segment 1 \\[5, \\+10\\) starts before the previous segment ends \\(10\\)");
  EXPECT_EXIT(encode_segments({{95, 10, 0}}, 100, 2), ::testing::ExitedWithCode(1), "outside the range of 100");
  EXPECT_EXIT(encode_segments({{0, 10, 2}}, 100, 2), ::testing::ExitedWithCode(1), "has flag 2, expected below 2");
  // A table written by hand (not through encode_segments) is checked by the CPU ops as they read it.
  std::vector<float> x = zerosf(100), out = zerosf(1);
  std::vector<uint32_t> words = {0, 0, 10, 1};  // flag 1 with a single slot
  EXPECT_EXIT(cpu_ops().sum_squares_multi(view(out, {1}), view(x, {100}), table_view(words), Stream::host()),
              ::testing::ExitedWithCode(1), "sum_squares_multi: segment 0 \\[0, \\+10\\) has flag 1, expected below 1");
  std::vector<float> p = zerosf(100), g = zerosf(100), m = zerosf(100), v = zerosf(100);
  std::vector<uint32_t> past_end = {90, 0, 20, 0};
  EXPECT_EXIT(cpu_ops().adamw_update_multi(view(p, {100}), Tensor{}, view(g, {100}), view(m, {100}), view(v, {100}),
                                           table_view(past_end), AdamWArgs{}, Stream::host()),
              ::testing::ExitedWithCode(1), "adamw_update_multi: segment 0 \\[90, \\+20\\) is outside the range");
  std::vector<float> wrong_dtype = zerosf(4);
  EXPECT_EXIT(cpu_ops().sum_squares_multi(view(out, {1}), view(x, {100}), view(wrong_dtype, {1, 4}), Stream::host()),
              ::testing::ExitedWithCode(1), "sum_squares_multi: segments must be uint32, got fp32");
}

}  // namespace
}  // namespace kernels::test
