// tests/parallel/test_world.cpp
// launch::world_from_env with fake environments, one per launcher, plus the precedence between
// them and the messages for bad values; then launch::discover and print_world_table under the
// real mpirun of this test (MPI is already initialised by the test main, as in a tool that
// calls discover() twice).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kernels/check.h"
#include "kernels/device.h"
#include "launch/world.h"
#include "parallel_test.h"
#include "tests/common/test_support.h"

namespace {

using Env = std::map<std::string, std::string>;
using kiln_test::input_error_of;

launch::World from(const Env& env) {
  return launch::world_from_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(WorldFromEnv, NothingSetIsASingleProcess) {
  const launch::World w = from({});
  EXPECT_EQ(w.launcher, "single");
  EXPECT_EQ(w.rank, 0);
  EXPECT_EQ(w.size, 1);
  EXPECT_EQ(w.local_rank, 0);
  EXPECT_EQ(w.local_size, 1);
  EXPECT_EQ(w.device, -1);
}

TEST(WorldFromEnv, OpenMpi) {
  const launch::World w = from({{"OMPI_COMM_WORLD_RANK", "5"}, {"OMPI_COMM_WORLD_SIZE", "16"},
                                {"OMPI_COMM_WORLD_LOCAL_RANK", "5"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "8"}});
  EXPECT_EQ(w.launcher, "mpi");
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.size, 16);
  EXPECT_EQ(w.local_rank, 5);
  EXPECT_EQ(w.local_size, 8);
}

TEST(WorldFromEnv, SlurmWithTasksPerNode) {
  const launch::World w = from({{"SLURM_PROCID", "9"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"},
                                {"SLURM_NTASKS_PER_NODE", "8"}});
  EXPECT_EQ(w.launcher, "slurm");
  EXPECT_EQ(w.rank, 9);
  EXPECT_EQ(w.size, 16);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_size, 8);
}

TEST(WorldFromEnv, SlurmCompressedTasksPerNodeList) {
  // "2(x3),1": nodes 0, 1, 2 run two tasks each, node 3 runs one.
  Env env = {{"SLURM_PROCID", "6"}, {"SLURM_NTASKS", "7"}, {"SLURM_LOCALID", "0"},
             {"SLURM_TASKS_PER_NODE", "2(x3),1"}, {"SLURM_NODEID", "3"}};
  EXPECT_EQ(from(env).local_size, 1);
  env["SLURM_NODEID"] = "1";
  env["SLURM_PROCID"] = "3";
  env["SLURM_LOCALID"] = "1";
  EXPECT_EQ(from(env).local_size, 2);
  env.erase("SLURM_TASKS_PER_NODE");  // unknown: the least consistent value, local_rank + 1
  EXPECT_EQ(from(env).local_size, 2);
}

TEST(WorldFromEnv, Torchrun) {
  const launch::World w =
      from({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"}});
  EXPECT_EQ(w.launcher, "torchrun");
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.size, 4);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_size, 2);
}

TEST(WorldFromEnv, OpenMpiWinsOverTheSlurmAllocationAroundIt) {
  // mpirun inside salloc/sbatch: SLURM_* describe the allocation, OMPI_* this job.
  const launch::World w = from({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "32"}, {"RANK", "7"}, {"WORLD_SIZE", "8"},
                                {"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "4"}});
  EXPECT_EQ(w.launcher, "mpi");
  EXPECT_EQ(w.rank, 2);
  EXPECT_EQ(w.size, 4);
  // Slurm before torchrun.
  EXPECT_EQ(from({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"RANK", "7"}, {"WORLD_SIZE", "8"}}).launcher, "slurm");
}

TEST(WorldFromEnv, BadValuesNameTheVariable) {
  EXPECT_HAS(input_error_of([] { from({{"OMPI_COMM_WORLD_RANK", "two"}, {"OMPI_COMM_WORLD_SIZE", "4"}}); }),
             "OMPI_COMM_WORLD_RANK: expected an integer, got 'two'");
  EXPECT_HAS(input_error_of([] { from({{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "4"}}); }),
             "SLURM_PROCID: expected 0..3 (SLURM_NTASKS = 4), got 4");
  EXPECT_HAS(input_error_of([] { from({{"RANK", "0"}, {"WORLD_SIZE", "0"}}); }), "WORLD_SIZE: expected >= 1, got 0");
  EXPECT_HAS(input_error_of([] {
               from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}});
             }),
             "LOCAL_RANK = 2 does not fit a node of 2 ranks");
}

TEST(Discover, AgreesWithMpirun) {
  std::unique_ptr<parallel::Comm> world = kiln_test::mpi_world();
  const int n = world->size(), r = world->rank();
  launch::Launched l = launch::discover();
  EXPECT_EQ(l.world.launcher, "mpi");  // mpirun sets OMPI_COMM_WORLD_* even for -np 1
  EXPECT_EQ(l.world.size, n);
  EXPECT_EQ(l.world.rank, r);
  EXPECT_EQ(l.world.local_size, n);  // one machine
  EXPECT_EQ(l.world.local_rank, r);
  EXPECT_FALSE(l.world.host.empty());
  EXPECT_EQ(l.world.device, kernels::gpu_count() > 0 ? r % kernels::gpu_count() : -1);
  ASSERT_NE(l.comm, nullptr);
  EXPECT_STREQ(l.comm->backend(), n == 1 ? "self" : "mpi");  // one rank never needs MPI
  EXPECT_EQ(l.comm->size(), n);
  EXPECT_EQ(l.comm->rank(), r);
  if (n > 1) {
    EXPECT_EQ(kernels::rank_prefix(), "[rank " + std::to_string(r) + "/" + std::to_string(n) + " " + l.world.host + "] ");
  }
  kernels::set_rank_prefix("");
}

TEST(Discover, WorldTableOnRankZeroOnly) {
  launch::Launched l = launch::discover();
  const int n = l.comm->size();
  testing::internal::CaptureStdout();
  launch::print_world_table(l);
  const std::string out = testing::internal::GetCapturedStdout();
  kernels::set_rank_prefix("");
  if (l.comm->rank() != 0) {
    EXPECT_EQ(out, "");
    return;
  }
  EXPECT_HAS(out, "world: " + std::to_string(n) + (n == 1 ? " rank" : " ranks") + " on 1 host, launcher mpi");
  EXPECT_HAS(out, l.world.host);
  for (int r = 0; r < n; ++r) EXPECT_HAS(out, "  " + std::to_string(r) + "/" + std::to_string(n));
}

}  // namespace
