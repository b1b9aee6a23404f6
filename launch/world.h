// launch/world.h
// Who am I in this job: rank, world size, rank on this node, host, launcher, and the GPU this
// process drives. Called once by `kiln train` (and tools that run collectively) before the config
// decides anything about parallelism; the result feeds parallel::make_layout / make_groups.
//
// Discovery order (the first launcher whose variables are all present wins):
//   1. Open MPI   OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK,
//                 OMPI_COMM_WORLD_LOCAL_SIZE                                  launcher "mpi"
//   2. Slurm      SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; local size from
//                 SLURM_NTASKS_PER_NODE, else SLURM_STEP_TASKS_PER_NODE or
//                 SLURM_TASKS_PER_NODE ("2(x3),1") at index SLURM_NODEID       "slurm"
//   3. torchrun   RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE               "torchrun"
//   4. none of them: one process                                              "single"
// Open MPI comes first because mpirun inside a Slurm allocation leaves the allocation's SLURM_*
// variables in every rank's environment; those describe the allocation, not this job step.
//
// Not here: which backend a group uses (parallel/groups.cpp), the layout (parallel/layout.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "parallel/comm.h"

namespace launch {

struct World {
  int rank = 0, size = 1, local_rank = 0, local_size = 1;
  std::string host;      // filled by discover() (gethostname); world_from_env leaves it empty
  std::string launcher;  // "single" | "mpi" | "slurm" | "torchrun"
  int device = -1;       // CUDA device bound by discover(); -1: none (CPU)
};

// Reads the variables above through `getenv_fn` (pass std::getenv, or a fake map in tests). Pure.
// Throws kernels::InputError naming the variable when a value is not an integer or out of range
// (rank >= size, local_rank >= local_size, size < 1).
World world_from_env(const std::function<const char*(const char*)>& getenv_fn);

struct Launched {
  World world;
  std::unique_ptr<parallel::Comm> comm;  // the world communicator: SelfComm or MpiComm
};

// Discovers the world from the environment. When size > 1:
//   - initialises MPI (MPI_Init_thread, FUNNELED: only the main thread calls MPI), unless the
//     process already did, and registers finalize-at-exit (see finalize());
//   - checks MPI_COMM_WORLD's rank and size agree with the environment: InputError if not (e.g.
//     `kiln train` run inside an sbatch script without srun sees SLURM_NTASKS=16 but is alone);
//   - takes local_rank/local_size from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED): what shares
//     this node is what shares its GPUs, whatever the launcher says;
//   - sets the failure prefix "[rank R/N host] " (kernels::set_rank_prefix).
// With size 1 nothing is initialised and the comm is a SelfComm. In both cases, when GPUs are
// visible, binds device = local_rank % gpu_count (before any CUDA context exists).
Launched discover();

// Makes `device` the current CUDA device of this process. Fails without CUDA or out of range.
void set_device(int device);

// Collective over l.comm: gathers (rank, host, local rank, device) from every rank; rank 0 prints
// one table to stdout. Other ranks print nothing.
void print_world_table(const Launched& l);

// MPI_Finalize if MPI was initialised and is not finalised yet. Call it on the success path only:
// MPI_Finalize waits for every rank, so a rank that fails must exit without it (mpirun then
// tears the job down). discover() registers an exit handler that finalises only when the exit
// status is 0 for the same reason.
void finalize();

}  // namespace launch
