// bench/loader_bench.cpp
// kiln_bench_loader: how many training tokens per second data::TrainLoader delivers from HDF5.
//
// Writes synthetic uint16 shards (default 4 x 50M tokens, GPT-2 vocabulary) into a scratch folder,
// then times one consumer thread calling next() for a fixed wall-clock budget per row, with the
// prefetch thread on (depth 2) and off, for several (seq_len, micro_batch). Tokens counted are
// training tokens (seq_len per row; the extra target id is not counted). The consumer sums every id
// it receives, standing in for the copy to the GPU; the last rows also keep it busy for a while per
// batch, like a training step, to show what prefetch overlaps. Run under `taskset -c 0` to measure
// one core (worker and consumer then share it); tokens per CPU-second (process CPU time, both
// threads) is printed too, since it stays meaningful on a busy machine. Files are freshly written,
// so reads come from the page cache: this measures the loader, not the disk. Not a test: it
// asserts nothing.
//
//   kiln_bench_loader [--dir DIR] [--shards N] [--tokens PER_SHARD] [--seconds S] [--keep]
#include <hdf5.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/shard.h"
#include "kernels/rng.h"

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string dir;
  int shards = 4;
  int64_t tokens = 50'000'000;
  double seconds = 2.0;
  bool keep = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kiln_bench_loader: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--dir") a.dir = value();
    else if (k == "--shards") a.shards = std::atoi(value().c_str());
    else if (k == "--tokens") a.tokens = std::atoll(value().c_str());
    else if (k == "--seconds") a.seconds = std::atof(value().c_str());
    else if (k == "--keep") a.keep = true;
    else {
      std::fprintf(stderr, "usage: kiln_bench_loader [--dir DIR] [--shards N] [--tokens PER_SHARD] "
                           "[--seconds S] [--keep]\n");
      std::exit(2);
    }
  }
  if (a.dir.empty()) a.dir = (fs::temp_directory_path() / ("kiln_bench_loader_" + std::to_string(getpid()))).string();
  return a;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

int cores_allowed() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : -1;
}

// Pseudo-random ids below GPT-2's 50257: no structure the loader could accidentally exploit.
void write_shards(const Args& a) {
  fs::create_directories(a.dir);
  std::vector<uint32_t> ids(size_t(a.tokens));
  for (int s = 0; s < a.shards; ++s) {
    const std::string path = a.dir + "/train_" + std::to_string(1000000 + s).substr(1) + ".h5";
    if (fs::exists(path) && data::read_shard_info(path).num_tokens == a.tokens) continue;  // --keep reuse
    const uint64_t key = kernels::mix(uint64_t(s), kernels::Purpose::kTest);
    for (int64_t i = 0; i < a.tokens; ++i) ids[size_t(i)] = uint32_t(kernels::hash64(key ^ uint64_t(i)) % 50257);
    data::write_shard(path, ids, {0}, 50257, 50256, "bench:synthetic");
  }
}

// CPU time of the whole process (consumer and prefetch thread): tokens per CPU-second is the cost
// per core, and unlike wall time it does not suffer when other processes share the core.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Row {
  int seq_len, micro_batch, prefetch, max_open_files;
  double work_us = 0;  // consumer busy-waits this long per batch, standing in for a training step
};

void run_row(const Args& a, const Row& r) {
  data::LoaderOptions o;
  o.pattern = a.dir + "/train_*.h5";
  o.seq_len = r.seq_len;
  o.micro_batch = r.micro_batch;
  o.seed = 1337;
  o.prefetch = r.prefetch;
  o.max_open_files = r.max_open_files;
  data::TrainLoader loader(o);
  std::vector<int32_t> batch;
  loader.next(batch);  // warm-up: opens files, builds the epoch permutation, starts the worker
  int64_t rows = 0;
  uint64_t checksum = 0;
  const auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  double elapsed = 0;
  while (elapsed < a.seconds) {
    loader.next(batch);
    for (const int32_t id : batch) checksum += uint32_t(id);
    const auto w0 = Clock::now();
    while (std::chrono::duration<double, std::micro>(Clock::now() - w0).count() < r.work_us) {
    }
    rows += r.micro_batch;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const double cpu = cpu_seconds() - cpu0;
  const double tokens = double(rows) * r.seq_len;
  std::printf("| %7d | %11d | %8s | %10d | %8.0f | %12.0f | %7.2f | %7.2f | %10.1fM | %11.1fM |  (checksum %llu)\n",
              r.seq_len, r.micro_batch, r.prefetch > 0 ? "on (2)" : "off", r.max_open_files, r.work_us, tokens, elapsed,
              cpu, tokens / elapsed / 1e6, tokens / cpu / 1e6, (unsigned long long)(checksum % 1000));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  std::printf("kiln_bench_loader | %s | %ld online CPUs, %d allowed to this process | HDF5 %d.%d.%d\n",
              cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN), cores_allowed(), H5_VERS_MAJOR, H5_VERS_MINOR,
              H5_VERS_RELEASE);
  std::printf("writing %d shards x %lld uint16 tokens to %s ...\n", a.shards, (long long)a.tokens, a.dir.c_str());
  std::fflush(stdout);
  const auto w0 = Clock::now();
  write_shards(a);
  std::printf("written in %.1f s (page cache warm: reads below do not touch the disk)\n\n",
              std::chrono::duration<double>(Clock::now() - w0).count());
  std::printf("| seq_len | micro_batch | prefetch | open files | work us  | tokens       | wall s  | cpu s   | tokens/s    | tokens/cpu-s |\n");
  std::printf("|---------|-------------|----------|------------|----------|--------------|---------|---------|-------------|--------------|\n");
  const Row rows[] = {{1024, 8, 2, 64},  {1024, 8, 0, 64},  {1024, 16, 2, 64}, {1024, 16, 0, 64},
                      {2048, 8, 2, 64},  {2048, 8, 0, 64},  {256, 32, 2, 64},  {256, 32, 0, 64},
                      {64, 64, 2, 64},   {64, 64, 0, 64},   {1024, 16, 2, 1},  {1024, 16, 0, 1},
                      // A consumer that computes while the worker reads: prefetch overlaps the two
                      // when a second core is free, and costs a little on one core.
                      {1024, 8, 2, 64, 25}, {1024, 8, 0, 64, 25}};
  for (const Row& r : rows) run_row(a, r);
  if (!a.keep) fs::remove_all(a.dir);
  return 0;
}
