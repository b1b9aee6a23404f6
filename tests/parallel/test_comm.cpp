// tests/parallel/test_comm.cpp
// Known answers for every collective of comm.h, on the MPI backend (MPI_COMM_WORLD of this
// mpirun, n = 1..4) and on the self backend (n = 1), host memory. Run under mpirun -np 1..4.
// With n ranks and rank r, the data is chosen so the answer is a formula of n and r:
//   all_reduce sum of (r + 1) = n(n+1)/2, max = n, avg = (n+1)/2 (exact in bf16/fp16: n <= 4)
//   all_gather of blocks filled with 32 r + i   -> block s holds 32 s + i
//   reduce_scatter of (r + 1)(b + 1) + i in block b -> rank r holds (r+1) n(n+1)/2 + n i
//   broadcast of 10 r + i from root q -> 10 q + i everywhere
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "parallel/comm_mpi.h"
#include "parallel/comm_self.h"
#include "parallel/watchdog.h"
#include "parallel_test.h"

namespace {

using namespace kiln_test;
using parallel::Comm;
using parallel::ReduceOp;
using parallel::Stream;

const std::vector<DType> kReduceTypes = {DType::F32, DType::F64, DType::BF16, DType::F16, DType::I32};
const std::vector<DType> kFloatTypes = {DType::F32, DType::F64, DType::BF16, DType::F16};

class CommTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "self") {
      comm_ = std::make_unique<parallel::SelfComm>();
    } else {
      comm_ = mpi_world();
      // "mpi_watched": the same known answers through the watchdog's non-blocking forms and
      // polling loop (parallel/mpi_watch.cpp), on the world and on its splits (which inherit it).
      if (GetParam() == "mpi_watched") comm_->set_watchdog(std::make_shared<parallel::Watchdog>(120.0), "world");
    }
    n_ = comm_->size();
    r_ = comm_->rank();
  }
  std::unique_ptr<Comm> comm_;
  int n_ = 1, r_ = 0;
};

TEST_P(CommTest, ReportsBackendRankAndSize) {
  EXPECT_STREQ(comm_->backend(), GetParam() == "self" ? "self" : "mpi");
  EXPECT_GE(r_, 0);
  EXPECT_LT(r_, n_);
  if (GetParam() == "self") {
    EXPECT_EQ(n_, 1);
  }
}

TEST_P(CommTest, AllReduceSumOfRankPlusOneIsTriangular) {
  const double want = n_ * (n_ + 1) / 2.0;
  for (DType dt : kReduceTypes) {
    // 1003: not a multiple of anything a backend might chunk or vectorize by.
    OwnedTensor t = filled(dt, 1003, [&](int64_t) { return r_ + 1; });
    comm_->all_reduce(t.t, ReduceOp::kSum, Stream::host());
    expect_values(t.t, [&](int64_t) { return want; }, "sum of 1..n");
  }
}

TEST_P(CommTest, AllReduceSumVariesPerElement) {
  // Element i: r + i on rank r; the sum is n(n-1)/2 + n i.
  OwnedTensor t = filled(DType::F32, 257, [&](int64_t i) { return r_ + double(i); });
  comm_->all_reduce(t.t, ReduceOp::kSum, Stream::host());
  expect_values(t.t, [&](int64_t i) { return n_ * (n_ - 1) / 2.0 + n_ * double(i); }, "sum of r + i");
}

TEST_P(CommTest, AllReduceMaxIsLargestRank) {
  for (DType dt : kReduceTypes) {
    // Alternate signs per element so max is not simply "the last rank's value" for negatives.
    OwnedTensor t = filled(dt, 64, [&](int64_t i) { return (i % 2 ? -1.0 : 1.0) * (r_ + 1); });
    comm_->all_reduce(t.t, ReduceOp::kMax, Stream::host());
    expect_values(t.t, [&](int64_t i) { return i % 2 ? -1.0 : double(n_); }, "max");
  }
}

TEST_P(CommTest, AllReduceAvgIsMidpoint) {
  for (DType dt : kFloatTypes) {
    OwnedTensor t = filled(dt, 100, [&](int64_t) { return r_ + 1; });
    comm_->all_reduce(t.t, ReduceOp::kAvg, Stream::host());
    expect_values(t.t, [&](int64_t) { return (n_ + 1) / 2.0; }, "avg of 1..n");
  }
}

TEST_P(CommTest, AllGatherConcatenatesRankBlocks) {
  // 32 r + i with i < 32: at most 127, exact in bf16 (8 significant bits) as in every dtype.
  const int64_t k = 32;
  for (DType dt : {DType::F32, DType::BF16, DType::I32, DType::U16}) {
    OwnedTensor in = filled(dt, k, [&](int64_t i) { return 32.0 * r_ + double(i); });
    OwnedTensor out = filled(dt, n_ * k, [](int64_t) { return 0; });
    comm_->all_gather(out.t, in.t, Stream::host());
    expect_values(out.t, [&](int64_t j) { return 32.0 * double(j / k) + double(j % k); }, "all_gather");
  }
}

TEST_P(CommTest, AllGatherInPlace) {
  // `in` is this rank's block of `out`: the form ZeRO uses to re-assemble parameters.
  const int64_t k = 16;
  OwnedTensor out = filled(DType::F32, n_ * k, [&](int64_t j) { return j / k == r_ ? 100.0 * r_ + double(j % k) : -1.0; });
  comm_->all_gather(out.t, out.t.slice_rows(r_ * k, k), Stream::host());
  expect_values(out.t, [&](int64_t j) { return 100.0 * double(j / k) + double(j % k); }, "all_gather in place");
}

TEST_P(CommTest, ReduceScatterSumsEachBlock) {
  const int64_t k = 8;  // small i keeps (r+1) n(n+1)/2 + n i exact in bf16 and fp16
  const double tri = n_ * (n_ + 1) / 2.0;
  for (DType dt : kReduceTypes) {
    OwnedTensor in = filled(dt, n_ * k, [&](int64_t j) { return (r_ + 1.0) * double(j / k + 1) + double(j % k); });
    OwnedTensor out = filled(dt, k, [](int64_t) { return -1; });
    comm_->reduce_scatter(out.t, in.t, ReduceOp::kSum, Stream::host());
    expect_values(out.t, [&](int64_t i) { return (r_ + 1) * tri + n_ * double(i); }, "reduce_scatter sum");
  }
}

TEST_P(CommTest, ReduceScatterAvgAndMax) {
  const int64_t k = 8;
  OwnedTensor in = filled(DType::F32, n_ * k, [&](int64_t) { return r_ + 1; });
  OwnedTensor out = filled(DType::F32, k, [](int64_t) { return -1; });
  comm_->reduce_scatter(out.t, in.t, ReduceOp::kAvg, Stream::host());
  expect_values(out.t, [&](int64_t) { return (n_ + 1) / 2.0; }, "reduce_scatter avg");
  comm_->reduce_scatter(out.t, in.t, ReduceOp::kMax, Stream::host());
  expect_values(out.t, [&](int64_t) { return n_; }, "reduce_scatter max");
}

TEST_P(CommTest, ReduceScatterInPlace) {
  // `out` is this rank's block of `in` (the gradient-shard form of ZeRO).
  const int64_t k = 8;
  OwnedTensor in = filled(DType::F32, n_ * k, [&](int64_t j) { return (r_ + 1.0) * double(j / k + 1); });
  Tensor out = in.t.slice_rows(r_ * k, k);
  comm_->reduce_scatter(out, in.t, ReduceOp::kSum, Stream::host());
  expect_values(out, [&](int64_t) { return (r_ + 1) * (n_ * (n_ + 1) / 2.0); }, "reduce_scatter in place");
}

TEST_P(CommTest, BroadcastFromFirstAndLastRank) {
  for (int root : {0, n_ - 1}) {
    for (DType dt : {DType::F32, DType::F64, DType::BF16, DType::I32}) {
      OwnedTensor t = filled(dt, 99, [&](int64_t i) { return 10.0 * r_ + double(i); });
      comm_->broadcast(t.t, root, Stream::host());
      expect_values(t.t, [&](int64_t i) { return 10.0 * root + double(i); }, "broadcast from " + std::to_string(root));
    }
  }
}

TEST_P(CommTest, EmptyTensorsAreNoOps) {
  OwnedTensor t(Device::kCpu, DType::F32, kernels::Shape{0});
  comm_->all_reduce(t.t, ReduceOp::kSum, Stream::host());
  comm_->broadcast(t.t, 0, Stream::host());
  comm_->all_gather(t.t, t.t, Stream::host());
  SUCCEED();
}

TEST_P(CommTest, SplitEvenOdd) {
  // Ranks with the same parity form a group, ordered by rank: group rank = r / 2.
  std::unique_ptr<Comm> g = comm_->split(/*color=*/r_ % 2, /*key=*/r_);
  const int same_parity = (n_ - r_ % 2 + 1) / 2;
  EXPECT_EQ(g->size(), same_parity);
  EXPECT_EQ(g->rank(), r_ / 2);
  EXPECT_STREQ(g->backend(), comm_->backend());
  // Sum of the world ranks in my group: even ranks 0+2 = 2 (n >= 3), odd ranks 1+3 = 4 (n = 4).
  int want = 0;
  for (int s = r_ % 2; s < n_; s += 2) want += s;
  OwnedTensor t = filled(DType::I32, 5, [&](int64_t) { return r_; });
  g->all_reduce(t.t, ReduceOp::kSum, Stream::host());
  expect_values(t.t, [&](int64_t) { return want; }, "sum of world ranks in my parity group");
}

TEST_P(CommTest, SplitKeyOrdersRanks) {
  // One group, keys descending: the last world rank becomes group rank 0.
  std::unique_ptr<Comm> g = comm_->split(/*color=*/0, /*key=*/n_ - 1 - r_);
  EXPECT_EQ(g->size(), n_);
  EXPECT_EQ(g->rank(), n_ - 1 - r_);
  OwnedTensor t = filled(DType::F32, 3, [&](int64_t) { return r_; });
  g->broadcast(t.t, 0, Stream::host());  // group root 0 = world rank n-1
  expect_values(t.t, [&](int64_t) { return n_ - 1; }, "broadcast from group rank 0");
}

TEST_P(CommTest, BarrierOrdersFileWrites) {
  // Every rank writes its file, then barrier: afterwards every rank must see all n files.
  std::unique_ptr<Comm> world = mpi_world();  // shared folder setup uses the real world
  const std::filesystem::path dir = shared_dir("barrier_" + GetParam(), *world);
  std::ofstream(dir / ("rank" + std::to_string(world->rank()))) << world->rank();
  comm_->barrier();
  if (GetParam() == "self") world->barrier();  // a group of one orders nothing across processes
  for (int s = 0; s < world->size(); ++s)
    EXPECT_TRUE(std::filesystem::exists(dir / ("rank" + std::to_string(s)))) << "rank " << s << "'s file";
}

INSTANTIATE_TEST_SUITE_P(Backends, CommTest, ::testing::Values("mpi", "mpi_watched", "self"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
