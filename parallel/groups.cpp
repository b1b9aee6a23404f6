// parallel/groups.cpp
// make_groups: the switchboard of parallel/ (ARCHITECTURE principle 5). The one file here that
// knows whether NCCL was built, and so the one place that decides which backend each group gets:
//
//   group size 1                        -> SelfComm (no communication at all)
//   device kCpu                         -> MpiComm (host memory)
//   device kCuda, NCCL built, GPU seen,
//     every rank of the group on its own GPU -> NcclComm, bootstrapped over the group's MpiComm
//   device kCuda otherwise              -> MpiComm, staging device tensors through host memory
// KILN_COMM_BACKEND=auto|mpi|nccl (default auto) overrides the choice for device groups: `mpi`
// forces the host path (debugging, several ranks sharing one GPU), `nccl` makes the fallback an
// error instead of a note.
//
// The world communicator is returned as given (MpiComm or SelfComm): it carries host values
// (losses, metrics, checkpoint barriers), never device tensors.
//
// Ordering: every rank runs the same sequence of collective calls here (two splits, then one
// NCCL bootstrap per group), so no rank can wait on a collective another rank skips.
#include "parallel/groups.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "kernels/check.h"
#include "kernels/device.h"
#include "parallel/comm_self.h"
#if KILN_HAVE_NCCL
#include "parallel/comm_nccl.h"
#endif

namespace parallel {

namespace {

enum class Choice { kAuto, kMpi, kNccl };

Choice backend_choice() {
  const char* v = std::getenv("KILN_COMM_BACKEND");
  const std::string s = v != nullptr ? v : "";
  if (s.empty() || s == "auto") return Choice::kAuto;
  if (s == "mpi") return Choice::kMpi;
  if (s == "nccl") return Choice::kNccl;
  throw kernels::InputError("KILN_COMM_BACKEND: expected auto, mpi or nccl, got '" + s + "'");
}

// The stream-ordered device copy for SelfComm on a GPU, where CUDA is built.
DeviceCopyFn self_device_copy() {
#if KILN_HAVE_NCCL
  return &nccl_device_copy;
#else
  return nullptr;
#endif
}

// Only world rank 0 speaks (CONTRACTS §1); notes go to stderr so stdout stays the run's log.
[[maybe_unused]] void note(bool speak, const std::string& msg) {
  if (speak) std::fprintf(stderr, "kiln: %s\n", msg.c_str());
}

// Turns a host-memory group into the one that moves `device`'s tensors. Collective over `host`.
std::unique_ptr<Comm> for_device(std::unique_ptr<Comm> host, kernels::Device device, const char* name,
                                 bool speak) {
  if (host->size() == 1) return std::make_unique<SelfComm>(self_device_copy());
  if (device == kernels::Device::kCpu) return host;

  const Choice choice = backend_choice();
#if KILN_HAVE_NCCL
  if (choice != Choice::kMpi && kernels::gpu_count() > 0) {
    // Asked collectively before ncclCommInitRank, which would fail (on some ranks only) when two
    // ranks share a GPU, e.g. several ranks on a one-GPU test machine.
    if (NcclComm::gpus_distinct(*host)) return std::make_unique<NcclComm>(std::move(host));
    if (choice == Choice::kNccl)
      throw kernels::InputError(std::string("KILN_COMM_BACKEND=nccl, but ranks of the ") + name +
                                " group share a GPU, which NCCL does not allow (one rank per GPU)");
    note(speak, std::string(name) + " group: ranks share a GPU, which NCCL refuses; "
                "using MPI through host memory (slow)");
    return host;
  }
  if (choice == Choice::kNccl)
    throw kernels::InputError("KILN_COMM_BACKEND=nccl, but no GPU is visible to this process");
#else
  if (choice == Choice::kNccl)
    throw kernels::InputError("KILN_COMM_BACKEND=nccl, but this binary was built without CUDA/NCCL");
#endif
  (void)name;
  (void)speak;
  return host;  // MPI, staging device tensors through host memory
}

}  // namespace

ProcessGroups make_groups(std::unique_ptr<Comm> world, const Layout& layout, kernels::Device device) {
  KILN_CHECK(world != nullptr, "make_groups: no world communicator");
  KILN_CHECK(world->size() == layout.world && world->rank() == layout.rank,
             "make_groups: world communicator is rank " + std::to_string(world->rank()) + " of " +
                 std::to_string(world->size()) + ", layout says rank " + std::to_string(layout.rank) + " of " +
                 std::to_string(layout.world));
  KILN_CHECK(layout.dp * layout.tp == layout.world && layout.rank == layout.dp_rank * layout.tp + layout.tp_rank,
             "make_groups: inconsistent layout " + layout.str());

  // Same order on every rank. tp group: same dp_rank, ordered by tp_rank; dp group: same
  // tp_rank, ordered by dp_rank. So group ranks equal layout coordinates (checked below).
  std::unique_ptr<Comm> tp = world->split(/*color=*/layout.dp_rank, /*key=*/layout.tp_rank);
  std::unique_ptr<Comm> dp = world->split(/*color=*/layout.tp_rank, /*key=*/layout.dp_rank);
  KILN_CHECK(tp->size() == layout.tp && tp->rank() == layout.tp_rank,
             "make_groups: tp group is rank " + std::to_string(tp->rank()) + " of " + std::to_string(tp->size()));
  KILN_CHECK(dp->size() == layout.dp && dp->rank() == layout.dp_rank,
             "make_groups: dp group is rank " + std::to_string(dp->rank()) + " of " + std::to_string(dp->size()));

  const bool speak = layout.rank == 0;
  ProcessGroups g;
  g.layout = layout;
  g.tp = for_device(std::move(tp), device, "tp", speak);
  g.dp = for_device(std::move(dp), device, "dp", speak);
  g.world = std::move(world);
  return g;
}

ProcessGroups one_rank_groups(kernels::Device device) {
  return make_groups(std::make_unique<SelfComm>(), Layout{}, device);
}

}  // namespace parallel
