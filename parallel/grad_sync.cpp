// parallel/grad_sync.cpp
#include "parallel/grad_sync.h"

#include <algorithm>

#include "kernels/check.h"

namespace parallel {

Tensor flat_slice(Tensor t, int64_t begin, int64_t count) { return t.reshaped({t.numel()}).slice_rows(begin, count); }

ShardRange zero_shard(int64_t n, int dp, int dp_rank) {
  KILN_CHECK(n % dp == 0, "zero_shard: flat length " + std::to_string(n) + " is not a multiple of dp " + std::to_string(dp));
  return {int64_t(dp_rank) * (n / dp), n / dp};
}

GradSync::GradSync(Tensor flat_grads, Comm* dp, int64_t bucket_bytes) : flat_(flat_grads), dp_(dp) {
  const int64_t per = std::max<int64_t>(1, bucket_bytes / int64_t(kernels::dtype_size(flat_grads.dtype)));
  for (int64_t b = 0; b < flat_.numel(); b += per) buckets_.push_back(flat_slice(flat_, b, std::min(per, flat_.numel() - b)));
}

void GradSync::all_reduce_avg(Stream s) {
  if (!dp_ || dp_->size() == 1) return;
  for (Tensor& b : buckets_) dp_->all_reduce(b, ReduceOp::kAvg, s);
}

void GradSync::reduce_scatter_avg(Tensor out, Stream s) {
  if (!dp_ || dp_->size() == 1) {
    kernels::device_copy(out.data, out.device, flat_.data, flat_.device, out.nbytes());
    return;
  }
  dp_->reduce_scatter(out, flat_, ReduceOp::kAvg, s);
}

int64_t GradSync::bytes_per_step() const {
  return (dp_ && dp_->size() > 1) ? int64_t(flat_.nbytes()) : 0;
}

}  // namespace parallel
