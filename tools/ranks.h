// tools/ranks.h
// What every multi-rank command (train, eval) does first: find this process's place in the job
// (MPI started under mpirun/srun) and give it its share of the node's CPU cores.
#pragma once

#include "launch/world.h"

namespace tools {

launch::Launched start_ranks();

}  // namespace tools
