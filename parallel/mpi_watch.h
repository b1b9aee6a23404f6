// parallel/mpi_watch.h
// The MPI half of the collective watchdog (parallel/watchdog.h): completing a non-blocking
// collective under a deadline, and the query protocol that finds out where the other ranks are.
// Internal to parallel/: it includes mpi.h, so only comm_mpi.cpp and mpi_watch.cpp include it.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parallel/watchdog.h"

namespace parallel::detail {

// A group's view of the watchdog, held by its MpiComm.
struct MpiWatch {
  std::shared_ptr<Watchdog> dog;  // null or unarmed: collectives block, no deadline
  std::string name;               // what reports call the group: "world", "dp", "tp"
  uint64_t key = 0;               // the same on every member, different for every group
  std::vector<int> world_ranks;   // group rank -> MPI_COMM_WORLD rank
  bool on() const { return dog != nullptr && dog->armed(); }
};

// Completes `req`, the non-blocking collective `op` just issued as collective number `seq` of the
// group, polling on this thread: MPI_Test in a tight loop for the first millisecond (most
// collectives finish sooner), then every 50 us while answering other ranks' queries. Past the
// group's deadline it asks the group's other ranks where they are (up to 2 s for answers), prints
// the report to stderr and ends the job with kWatchdogExitCode: it returns only on completion.
void mpi_wait(MPI_Request& req, const MpiWatch& g, const char* op, int64_t seq);

}  // namespace parallel::detail
