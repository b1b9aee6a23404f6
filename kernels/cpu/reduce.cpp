// kernels/cpu/reduce.cpp
// Ops entry points for sum_squares: out[0] += sum(x^2), x of any float dtype, out fp32 (or fp64);
// and sum_squares_multi: out[flag] += sum(x^2) over each piece of a segment table (segments.h),
// exactly sum_squares called once per piece (each piece's fp64 sum rounded once into its slot).
// fp32 x runs the vectorised kernel of simd/table.h, other dtypes the reference in reduce.h.
// Called through kernels::cpu::kOps by the optimizer's gradient-norm pass and the replay check.
// Not here: the math.
#include "kernels/cpu/reduce.h"

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/simd/table.h"
#include "kernels/segments.h"

namespace kernels::cpu {

static_assert(simd::kSumSquaresBlock == kSumSquaresBlock, "fp32 and reference sums must use the same blocks");

namespace {

void check_out_dtype(const char* op, const Tensor& out) {
  KILN_CHECK(out.dtype == DType::F32 || out.dtype == DType::F64,
             op_msg(op, std::string("out must be fp32 or fp64, got ") + dtype_name(out.dtype)));
}

// out[slot] += sum of x[begin, begin + n)^2: the sum in double, added in double, rounded once.
void add_sum_squares(const char* op, const Tensor& out, int64_t slot, const Tensor& x, int64_t begin, int64_t n) {
  double total = 0;
  visit_float_dtype(op, "x", x.dtype, [&](auto tag) {
    using S = decltype(tag);
    const S* p = static_cast<const S*>(x.data) + begin;
    if constexpr (std::is_same_v<S, float>) total = simd::active().sum_squares(p, n);
    else total = sum_squares_ref<S>(p, n);
  });
  if (out.dtype == DType::F64) out.as<double>()[slot] += total;
  else out.as<float>()[slot] = static_cast<float>(double(out.as<float>()[slot]) + total);
}

}  // namespace

void sum_squares(Tensor out, Tensor x, Stream) {
  const char* op = "sum_squares";
  const int64_t n = check_sum_squares(kDevice, out, x);
  check_out_dtype(op, out);
  add_sum_squares(op, out, 0, x, 0, n);
}

void sum_squares_multi(Tensor out, Tensor x, Tensor segments, Stream) {
  const char* op = "sum_squares_multi";
  int64_t rows = 0;
  const int64_t n = check_sum_squares_multi(kDevice, out, x, segments, &rows);
  check_out_dtype(op, out);
  const uint32_t* table = segments.as<uint32_t>();
  check_segment_table_rows(op, table, rows, n, uint32_t(out.numel()));
  for (int64_t r = 0; r < rows; ++r) {
    const Segment seg = segment_at(table, r);
    add_sum_squares(op, out, seg.flag, x, seg.start, seg.length);
  }
}

// In index order, each loss widened to fp64: the numbers LossHead's host loop produced before the
// loss stayed on the device, so CPU losses are bit-identical to theirs.
void loss_mean_accumulate(Tensor acc, Tensor losses, double count, double divisor, Stream) {
  const int64_t n = check_loss_mean_accumulate(kDevice, acc, losses, count, divisor);
  double sum = 0;
  if (losses.dtype == DType::F64) {
    for (int64_t i = 0; i < n; ++i) sum += losses.as<double>()[i];
  } else {
    for (int64_t i = 0; i < n; ++i) sum += double(losses.as<float>()[i]);
  }
  const double mean = count > 0 ? sum / count : 0.0;
  acc.as<double>()[0] += mean / divisor;
}

}  // namespace kernels::cpu
