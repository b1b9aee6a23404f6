// tests/parallel/test_groups.cpp
// make_groups over the MPI world of this mpirun (n = 1..4): group sizes and ranks equal the
// layout's coordinates, and all-reducing world ranks inside each group proves who is in it.
// For n = 4, dp = 2, tp = 2:  tp groups {0,1} {2,3} (sums 1, 5);  dp groups {0,2} {1,3} (2, 4).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "configs/config.h"
#include "kernels/device.h"
#include "parallel/groups.h"
#include "parallel_test.h"
#include "tests/common/test_support.h"

namespace {

using namespace kiln_test;
using parallel::ReduceOp;
using parallel::Stream;

parallel::ProcessGroups groups_for(int tp, kernels::Device device = kernels::Device::kCpu) {
  std::unique_ptr<parallel::Comm> world = mpi_world();
  configs::Config c;
  c.parallel.tp = tp;
  const parallel::Layout l = parallel::make_layout(world->size(), world->rank(), c);
  return parallel::make_groups(std::move(world), l, device);
}

// Sum of the world ranks of the members of `g`, via an int32 all_reduce over `g`.
int sum_of_world_ranks(parallel::Comm& g, int world_rank) {
  OwnedTensor t = filled(DType::I32, 1, [&](int64_t) { return world_rank; });
  g.all_reduce(t.t, ReduceOp::kSum, Stream::host());
  return static_cast<const int32_t*>(t.t.data)[0];
}

TEST(Groups, Dp2Tp2GridOnFourRanks) {
  if (mpi_world()->size() != 4) GTEST_SKIP() << "needs mpirun -np 4";
  parallel::ProcessGroups g = groups_for(2);
  const int r = g.layout.rank;
  EXPECT_EQ(g.tp->size(), 2);
  EXPECT_EQ(g.dp->size(), 2);
  EXPECT_EQ(g.tp->rank(), r % 2);
  EXPECT_EQ(g.dp->rank(), r / 2);
  EXPECT_STREQ(g.tp->backend(), "mpi");
  EXPECT_STREQ(g.dp->backend(), "mpi");
  const int want_tp[] = {1, 1, 5, 5};  // {0,1} {2,3}
  const int want_dp[] = {2, 4, 2, 4};  // {0,2} {1,3}
  EXPECT_EQ(sum_of_world_ranks(*g.tp, r), want_tp[r]) << "tp group of rank " << r;
  EXPECT_EQ(sum_of_world_ranks(*g.dp, r), want_dp[r]) << "dp group of rank " << r;
  EXPECT_EQ(sum_of_world_ranks(*g.world, r), 6);
}

TEST(Groups, PureDataParallel) {
  // tp = 1: tp groups are single ranks (self backend), the dp group is the whole world.
  parallel::ProcessGroups g = groups_for(1);
  const int n = g.layout.world, r = g.layout.rank;
  EXPECT_STREQ(g.tp->backend(), "self");
  EXPECT_EQ(g.tp->size(), 1);
  EXPECT_EQ(g.dp->size(), n);
  EXPECT_EQ(g.dp->rank(), r);
  EXPECT_STREQ(g.dp->backend(), n == 1 ? "self" : "mpi");
  EXPECT_EQ(sum_of_world_ranks(*g.tp, r), r);
  EXPECT_EQ(sum_of_world_ranks(*g.dp, r), n * (n - 1) / 2);
}

TEST(Groups, PureTensorParallel) {
  // tp = n (n = 1..4 all divide n_head 12, d_ff 3072 and vocab 50304): one replica.
  const int n = mpi_world()->size();
  parallel::ProcessGroups g = groups_for(n);
  const int r = g.layout.rank;
  EXPECT_EQ(g.layout.dp, 1);
  EXPECT_EQ(g.tp->size(), n);
  EXPECT_EQ(g.tp->rank(), r);
  EXPECT_STREQ(g.dp->backend(), "self");
  EXPECT_EQ(sum_of_world_ranks(*g.tp, r), n * (n - 1) / 2);
  EXPECT_EQ(sum_of_world_ranks(*g.dp, r), r);
}

TEST(Groups, DeviceGroupsWithoutUsableNcclUseMpi) {
  // With no GPU (or several ranks per GPU) the cuda groups keep the MPI backend, which stages
  // device tensors through host memory. Building the groups needs no GPU at all.
  if (kernels::gpu_count() > 0) GTEST_SKIP() << "a GPU is visible: test_comm_nccl.cpp covers this case";
  parallel::ProcessGroups g = groups_for(1, kernels::Device::kCuda);
  EXPECT_STREQ(g.dp->backend(), g.layout.world == 1 ? "self" : "mpi");
  EXPECT_STREQ(g.tp->backend(), "self");
}

TEST(Groups, BadBackendOverrideNamesTheVariable) {
  if (mpi_world()->size() == 1) GTEST_SKIP() << "groups of one never look at KILN_COMM_BACKEND";
  setenv("KILN_COMM_BACKEND", "gloo", 1);
  const std::string msg = input_error_of([] { groups_for(1, kernels::Device::kCuda); });
  unsetenv("KILN_COMM_BACKEND");
  EXPECT_HAS(msg, "KILN_COMM_BACKEND: expected auto, mpi or nccl, got 'gloo'");
}

TEST(Groups, ForcedMpiBackendOnDevice) {
  if (mpi_world()->size() == 1) GTEST_SKIP() << "needs two or more ranks";
  setenv("KILN_COMM_BACKEND", "mpi", 1);
  parallel::ProcessGroups g = groups_for(1, kernels::Device::kCuda);
  unsetenv("KILN_COMM_BACKEND");
  EXPECT_STREQ(g.dp->backend(), "mpi");
}

}  // namespace
