// parallel/grad_sync.cpp
#include "parallel/grad_sync.h"

#include <algorithm>
#include <cmath>

#include "kernels/check.h"

namespace parallel {

Tensor flat_slice(Tensor t, int64_t begin, int64_t count) { return t.reshaped({t.numel()}).slice_rows(begin, count); }

ShardRange zero_shard(int64_t n, int dp, int dp_rank) {
  KILN_CHECK(n % dp == 0, "zero_shard: flat length " + std::to_string(n) + " is not a multiple of dp " + std::to_string(dp));
  return {int64_t(dp_rank) * (n / dp), n / dp};
}

GradSync::GradSync(Tensor flat_grads, const ProcessGroups& groups, std::vector<ShardRange> buckets, bool zero1)
    : flat_(flat_grads), groups_(groups), scalar_(flat_grads.device, kernels::DType::F32, {1}) {
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

  const Comm& dp = *groups_.dp;
  sharded_ = zero1 && dp.size() > 1;
  if (!sharded_) {
    own_ = {0, flat_.numel()};
    owned_grads_ = flat_;
    return;
  }
  own_ = zero_shard(flat_.numel(), dp.size(), dp.rank());
  shard_grads_ = kernels::Buffer(flat_.device, size_t(own_.count) * kernels::dtype_size(flat_.dtype));
  owned_grads_ = shard_grads_.view(flat_.dtype, {own_.count});
}

void GradSync::bucket_ready(int k, Stream s) {
  if (sharded_ || issued_[size_t(k)]) return;
  issued_[size_t(k)] = true;
  Comm& dp = *groups_.dp;
  if (dp.size() > 1 && buckets_[size_t(k)].numel() > 0) dp.all_reduce(buckets_[size_t(k)], ReduceOp::kAvg, s);
}

void GradSync::finish(Stream s) {
  if (sharded_) {
    groups_.dp->reduce_scatter(owned_grads_, flat_, ReduceOp::kAvg, s);
    return;
  }
  for (int k = 0; k < buckets(); ++k) bucket_ready(k, s);
  issued_.assign(buckets_.size(), false);  // ready for the next step
}

double GradSync::global_norm(GradSquares local) {
  float total = local.share(groups_.tp->rank());
  const bool over_tp = groups_.tp->size() > 1, over_dp = sharded_;
  if (over_tp || over_dp) {
    const kernels::Device dev = scalar_.t.device;
    kernels::copy_from_host(scalar_.t.data, dev, &total, sizeof total);
    if (over_tp) groups_.tp->all_reduce(scalar_.t, ReduceOp::kSum, {});
    if (over_dp) groups_.dp->all_reduce(scalar_.t, ReduceOp::kSum, {});
    kernels::copy_to_host(&total, scalar_.t.data, dev, sizeof total);
  }
  return std::sqrt(double(total));
}

void GradSync::gather_params(Tensor flat_compute, Stream s) {
  if (!sharded_) return;
  groups_.dp->all_gather(flat_compute, flat_slice(flat_compute, own_.begin, own_.count), s);
}

}  // namespace parallel
