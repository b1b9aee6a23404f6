// tools/ranks.cpp
#include "tools/ranks.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace tools {

launch::Launched start_ranks() {
  launch::Launched launched = launch::discover();
  // CPU ranks on one node share its cores: without this, 4 ranks x all-core OpenMP teams thrash.
  if (!std::getenv("OMP_NUM_THREADS"))
    omp_set_num_threads(std::max(1, int(std::thread::hardware_concurrency()) / std::max(1, launched.world.local_size)));
  return launched;
}

}  // namespace tools
