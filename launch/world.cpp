// launch/world.cpp
// World discovery, MPI start-up and shut-down, GPU binding (declared in launch/world.h). A
// switchboard file (ARCHITECTURE principle 5): the one place in launch/ that knows whether CUDA
// was built, so the GPU binding lives here behind KILN_HAVE_CUDA and nowhere else (cudaSetDevice
// itself runs inside the CUDA plugin, kernels/cuda_plugin.h, loaded by the first GPU use).
//
// Ordering at start-up, and why:
//   1. read the environment (pure)      the launcher decides how many ranks there are
//   2. MPI_Init_thread (size > 1 only)  a plain `kiln train` must never touch MPI
//   3. compare MPI with the environment a mismatch means a wrong launch; say so, don't hang
//   4. node-local rank from MPI         GPUs are shared by the ranks of one node
//   5. cudaSetDevice                    before anything creates a CUDA context on GPU 0
#include "launch/world.h"

#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernels/check.h"
#include "kernels/device.h"
#include "parallel/comm_mpi.h"
#include "parallel/comm_self.h"
#if KILN_HAVE_CUDA
#include "kernels/cuda_plugin.h"
#endif

namespace launch {

namespace {

using Getenv = std::function<const char*(const char*)>;

// nullopt when unset or empty; InputError naming the variable when not a whole integer.
std::optional<int> int_var(const Getenv& get, const char* name) {
  const char* v = get(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || x < -1000000000L || x > 1000000000L)
    throw kernels::InputError(std::string(name) + ": expected an integer, got '" + v + "'");
  return int(x);
}

// Slurm writes tasks per node compressed: "2(x3),1" = nodes 0..2 run 2 tasks, node 3 runs 1.
// Returns node `node_id`'s count, or nullopt if the text does not parse or is too short.
std::optional<int> slurm_tasks_on_node(const std::string& text, int node_id) {
  int node = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(',', i);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(i, end - i);
    int tasks = 0, repeat = 1;
    if (std::sscanf(item.c_str(), "%d(x%d)", &tasks, &repeat) < 1 || repeat < 1) return std::nullopt;
    if (node_id < node + repeat) return tasks;
    node += repeat;
    i = end + 1;
  }
  return std::nullopt;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

// Registered by discover() when it initialised MPI. on_exit (glibc) passes the exit status:
// finalise only on success. A failing rank that called MPI_Finalize would wait there for ranks
// that are themselves waiting for it in a collective; exiting without it lets mpirun (or srun)
// see the non-zero status and tear the whole job down.
void finalize_on_exit(int status, void*) {
  if (status == 0) finalize();
}

// GPUs the CUDA runtime can use. The driver's count (kernels::gpu_count() before the CUDA plugin is
// loaded) can be N where the runtime sees none (a driver older than the runtime): then this
// process trains on the CPU, as if there were no GPU. Loads the plugin only when the driver sees one.
int runtime_gpu_count() {
#if KILN_HAVE_CUDA
  return kernels::gpu_count() > 0 ? kernels::cuda_plugin().gpu_count() : 0;
#else
  return 0;
#endif
}

}  // namespace

World world_from_env(const Getenv& get) {
  World w;
  auto set = [&](const char* launcher, const char* rank, const char* size, const char* local_rank,
                 const char* local_size) {
    w.launcher = launcher;
    w.rank = *int_var(get, rank);
    w.size = *int_var(get, size);
    w.local_rank = int_var(get, local_rank).value_or(0);
    // Unknown local size: the least that is consistent; discover() asks MPI for the real one.
    w.local_size = (local_size ? int_var(get, local_size) : std::nullopt).value_or(w.local_rank + 1);
    if (w.size < 1) throw kernels::InputError(std::string(size) + ": expected >= 1, got " + std::to_string(w.size));
    if (w.rank < 0 || w.rank >= w.size)
      throw kernels::InputError(std::string(rank) + ": expected 0.." + std::to_string(w.size - 1) + " (" + size +
                                " = " + std::to_string(w.size) + "), got " + std::to_string(w.rank));
    if (w.local_size < 1 || w.local_rank < 0 || w.local_rank >= w.local_size)
      throw kernels::InputError(std::string(local_rank) + " = " + std::to_string(w.local_rank) +
                                " does not fit a node of " + std::to_string(w.local_size) + " ranks");
  };
  auto has = [&](const char* a, const char* b) { return int_var(get, a) && int_var(get, b); };

  if (has("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE")) {
    set("mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_SIZE");
  } else if (has("SLURM_PROCID", "SLURM_NTASKS")) {
    // Slurm has no single "tasks on my node" variable: SLURM_NTASKS_PER_NODE exists only when
    // --ntasks-per-node was given; otherwise decode the compressed per-node list.
    const char* local_size = nullptr;
    if (int_var(get, "SLURM_NTASKS_PER_NODE")) local_size = "SLURM_NTASKS_PER_NODE";
    set("slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", local_size);
    if (local_size == nullptr) {
      const int node = int_var(get, "SLURM_NODEID").value_or(0);
      for (const char* list : {"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"}) {
        const char* text = get(list);
        if (text == nullptr) continue;
        if (const auto n = slurm_tasks_on_node(text, node); n && *n > w.local_rank) {
          w.local_size = *n;
          break;
        }
      }
    }
  } else if (has("RANK", "WORLD_SIZE")) {
    set("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE");
  } else {
    w.launcher = "single";
  }
  return w;
}

void set_device(int device) {
#if KILN_HAVE_CUDA
  KILN_CHECK(device >= 0 && device < kernels::gpu_count(),
             "set_device: GPU " + std::to_string(device) + " of " + std::to_string(kernels::gpu_count()));
  kernels::cuda_plugin().set_device(device);  // cudaSetDevice, inside the CUDA plugin
#else
  kernels::fail("launch::set_device", "GPU " + std::to_string(device) + " requested, but this binary was built "
                "without CUDA", __FILE__, __LINE__);
#endif
}

Launched discover() {
  Launched l;
  World& w = l.world;
  w = world_from_env([](const char* name) -> const char* { return std::getenv(name); });
  w.host = host_name();

  if (w.size > 1) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // FUNNELED: the data loader has threads, but only the main thread calls MPI.
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      KILN_CHECK(provided >= MPI_THREAD_FUNNELED, "MPI_Init_thread: MPI_THREAD_FUNNELED not provided");
#if defined(__GLIBC__)
      static bool registered = false;
      if (!registered) on_exit(&finalize_on_exit, nullptr);
      registered = true;
#endif  // elsewhere no handler sees the exit status: main calls finalize() on success itself
    }
    int mpi_rank = 0, mpi_size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
    if (mpi_rank != w.rank || mpi_size != w.size) {
      std::string msg = "launcher '" + w.launcher + "' says this is rank " + std::to_string(w.rank) + " of " +
                        std::to_string(w.size) + ", but MPI_COMM_WORLD is rank " + std::to_string(mpi_rank) +
                        " of " + std::to_string(mpi_size) + ": start every rank with mpirun or srun";
      if (w.launcher == "torchrun") msg += " (kiln bootstraps NCCL over MPI, which torchrun does not start)";
      if (w.launcher == "slurm") msg += " (inside an sbatch script, run `srun kiln train ...`, not `kiln train ...`)";
      throw kernels::InputError(msg);
    }
    // Ranks that share memory share a node and its GPUs: that, not the launcher's idea of a
    // node, decides which GPU is whose.
    MPI_Comm node = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w.rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &w.local_rank);
    MPI_Comm_size(node, &w.local_size);
    MPI_Comm_free(&node);

    kernels::set_rank_prefix("[rank " + std::to_string(w.rank) + "/" + std::to_string(w.size) + " " + w.host + "] ");
    l.comm = parallel::MpiComm::world();
  } else {
    l.comm = std::make_unique<parallel::SelfComm>();
  }

  // local_rank % gpus: with one rank per GPU (the supported layout) this is the identity. More
  // ranks than GPUs (tests on a one-GPU machine) share GPUs; groups.cpp then avoids NCCL.
  if (const int gpus = runtime_gpu_count(); gpus > 0) {
    w.device = w.local_rank % gpus;
    set_device(w.device);
  }
  return l;
}

void print_world_table(const Launched& l) {
  // One fixed-size record per rank, gathered everywhere (comm.h has no gather); rank 0 prints.
  constexpr int kWords = 32, kHostBytes = (kWords - 4) * 4;
  std::vector<int32_t> mine(kWords, 0);
  mine[0] = l.world.rank;
  mine[1] = l.world.local_rank;
  mine[2] = l.world.local_size;
  mine[3] = l.world.device;
  std::snprintf(reinterpret_cast<char*>(&mine[4]), kHostBytes, "%s", l.world.host.c_str());

  const int n = l.comm->size();
  std::vector<int32_t> all(size_t(n) * kWords, 0);
  parallel::Tensor in{mine.data(), kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{kWords}};
  parallel::Tensor out{all.data(), kernels::DType::I32, kernels::Device::kCpu, kernels::Shape{int64_t(n) * kWords}};
  l.comm->all_gather(out, in, parallel::Stream::host());
  if (l.comm->rank() != 0) return;

  std::set<std::string> hosts;
  for (int r = 0; r < n; ++r) hosts.insert(reinterpret_cast<const char*>(&all[size_t(r) * kWords + 4]));
  std::printf("world: %d rank%s on %zu host%s, launcher %s\n", n, n == 1 ? "" : "s", hosts.size(),
              hosts.size() == 1 ? "" : "s", l.world.launcher.c_str());
  std::printf("  %5s  %-24s  %5s  %7s\n", "rank", "host", "local", "device");
  for (int r = 0; r < n; ++r) {
    const int32_t* rec = &all[size_t(r) * kWords];
    const std::string device = rec[3] >= 0 ? "cuda:" + std::to_string(rec[3]) : "cpu";
    std::printf("  %5d  %-24s  %2d/%-2d  %7s\n", rec[0], reinterpret_cast<const char*>(&rec[4]), rec[1], rec[2],
                device.c_str());
  }
  std::fflush(stdout);
}

void finalize() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
}

}  // namespace launch
