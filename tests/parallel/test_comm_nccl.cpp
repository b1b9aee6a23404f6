// tests/parallel/test_comm_nccl.cpp
// Device-memory collectives: NcclComm with one rank (always possible on a GPU machine), NcclComm
// over the world when every rank has its own GPU, and the MPI backend staging device tensors
// through host memory (what make_groups picks when ranks share a GPU). Same known answers as
// test_comm.cpp. Built only with CUDA; every test skips (GTEST_SKIP) when no GPU is visible.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "configs/config.h"
#include "kernels/device.h"
#include "parallel/comm_nccl.h"
#include "parallel/comm_self.h"
#include "parallel/groups.h"
#include "parallel_test.h"

namespace {

using namespace kiln_test;
using parallel::Comm;
using parallel::ReduceOp;
using parallel::Stream;

#define SKIP_WITHOUT_GPU() \
  if (kernels::gpu_count() == 0) GTEST_SKIP() << "no GPU visible"

// Runs every collective of comm.h on device tensors of `c` and checks the known answers.
void check_device_collectives(Comm& c) {
  const int n = c.size(), r = c.rank();
  const double tri = n * (n + 1) / 2.0;
  for (DType dt : {DType::F32, DType::BF16, DType::F16, DType::F64, DType::I32}) {
    OwnedTensor d = to_device(filled(dt, 1003, [&](int64_t) { return r + 1; }).t);
    c.all_reduce(d.t, ReduceOp::kSum, Stream::host());
    expect_values(to_host(d.t).t, [&](int64_t) { return tri; }, std::string(c.backend()) + " all_reduce sum");
    c.all_reduce(d.t, ReduceOp::kMax, Stream::host());  // every element is tri now
    expect_values(to_host(d.t).t, [&](int64_t) { return tri; }, std::string(c.backend()) + " all_reduce max");
  }
  {
    OwnedTensor d = to_device(filled(DType::F32, 100, [&](int64_t) { return r + 1; }).t);
    c.all_reduce(d.t, ReduceOp::kAvg, Stream::host());
    expect_values(to_host(d.t).t, [&](int64_t) { return (n + 1) / 2.0; }, std::string(c.backend()) + " avg");
  }
  const int64_t k = 8;
  {
    OwnedTensor in = to_device(filled(DType::BF16, k, [&](int64_t i) { return 100.0 * r + double(i); }).t);
    OwnedTensor out(Device::kCuda, DType::BF16, kernels::Shape{n * k});
    c.all_gather(out.t, in.t, Stream::host());
    expect_values(to_host(out.t).t, [&](int64_t j) { return 100.0 * double(j / k) + double(j % k); },
                  std::string(c.backend()) + " all_gather");
  }
  {
    OwnedTensor in =
        to_device(filled(DType::F32, n * k, [&](int64_t j) { return (r + 1.0) * double(j / k + 1) + double(j % k); }).t);
    OwnedTensor out(Device::kCuda, DType::F32, kernels::Shape{k});
    c.reduce_scatter(out.t, in.t, ReduceOp::kSum, Stream::host());
    expect_values(to_host(out.t).t, [&](int64_t i) { return (r + 1) * tri + n * double(i); },
                  std::string(c.backend()) + " reduce_scatter");
  }
  for (int root : {0, n - 1}) {
    OwnedTensor d = to_device(filled(DType::F32, 99, [&](int64_t i) { return 10.0 * r + double(i); }).t);
    c.broadcast(d.t, root, Stream::host());
    expect_values(to_host(d.t).t, [&](int64_t i) { return 10.0 * root + double(i); },
                  std::string(c.backend()) + " broadcast from " + std::to_string(root));
  }
}

TEST(CommNccl, OneRankCollectivesOnDeviceTensors) {
  SKIP_WITHOUT_GPU();
  parallel::NcclComm c(std::make_unique<parallel::SelfComm>());
  EXPECT_STREQ(c.backend(), "nccl");
  EXPECT_EQ(c.size(), 1);
  EXPECT_NE(c.stream().handle, nullptr);
  check_device_collectives(c);
}

TEST(CommNccl, WorldWhenEveryRankHasItsOwnGpu) {
  SKIP_WITHOUT_GPU();
  std::unique_ptr<Comm> world = mpi_world();
  if (!parallel::NcclComm::gpus_distinct(*world)) GTEST_SKIP() << "ranks share a GPU (NCCL needs one GPU per rank)";
  parallel::NcclComm c(std::move(world));
  check_device_collectives(c);
  std::unique_ptr<Comm> half = c.split(c.rank() % 2, c.rank());  // NCCL over each parity group
  EXPECT_STREQ(half->backend(), "nccl");
  check_device_collectives(*half);
}

TEST(CommNccl, MpiStagesDeviceTensorsThroughHost) {
  SKIP_WITHOUT_GPU();
  std::unique_ptr<Comm> world = mpi_world();
  check_device_collectives(*world);
}

TEST(CommNccl, MakeGroupsOnDevicePicksNcclOrFallsBack) {
  SKIP_WITHOUT_GPU();
  std::unique_ptr<Comm> world = mpi_world();
  const bool distinct = world->size() > 1 && parallel::NcclComm::gpus_distinct(*world);
  configs::Config cfg;  // tp = 1: the dp group is the world
  const parallel::Layout l = parallel::make_layout(world->size(), world->rank(), cfg);
  parallel::ProcessGroups g = parallel::make_groups(std::move(world), l, Device::kCuda);
  const std::string want = l.world == 1 ? "self" : distinct ? "nccl" : "mpi";
  EXPECT_EQ(std::string(g.dp->backend()), want);
  check_device_collectives(*g.dp);
  check_device_collectives(*g.tp);  // self on a GPU: stream-ordered device copies
}

}  // namespace
