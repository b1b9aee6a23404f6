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

GradSync::GradSync(Tensor flat_grads, Comm* dp, std::vector<ShardRange> buckets) : flat_(flat_grads), dp_(dp) {
  if (buckets.empty()) buckets.push_back({0, flat_.numel()});
  int64_t covered = 0;
  for (const ShardRange& r : buckets) {
    KILN_CHECK(r.begin >= 0 && r.count >= 0 && r.begin + r.count <= flat_.numel(), "GradSync: bucket out of range");
    covered += r.count;
    buckets_.push_back(flat_slice(flat_, r.begin, r.count));
  }
  KILN_CHECK(covered == flat_.numel(), "GradSync: buckets cover " + std::to_string(covered) + " of " +
                                           std::to_string(flat_.numel()) + " gradient elements");
  issued_.assign(buckets_.size(), false);
}

void GradSync::bucket_ready(int k, Stream s) {
  if (issued_[size_t(k)]) return;
  issued_[size_t(k)] = true;
  if (dp_ && dp_->size() > 1 && buckets_[size_t(k)].numel() > 0) dp_->all_reduce(buckets_[size_t(k)], ReduceOp::kAvg, s);
}

void GradSync::finish(Stream s) {
  for (int k = 0; k < buckets(); ++k) bucket_ready(k, s);
  issued_.assign(buckets_.size(), false);  // ready for the next step
}

void GradSync::reduce_scatter_avg(Tensor out, Stream s) {
  if (!dp_ || dp_->size() == 1) {
    kernels::device_copy(out.data, out.device, flat_.data, flat_.device, out.nbytes());
    return;
  }
  dp_->reduce_scatter(out, flat_, ReduceOp::kAvg, s);
}

}  // namespace parallel
