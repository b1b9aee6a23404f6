// bench/checkpoint_bench.cpp
// kiln_bench_checkpoint: what a checkpoint of GPT-2 124M's full training state costs, phase by
// phase, in one process (SelfComm world, tp = 1).
//
// State: every parameter of GPT-2 124M (vocab 50304, 12 layers, d_model 768, 1024 positions) as
// bf16 compute copy + fp32 master + fp32 Adam m and v: 14 bytes per parameter, ~1.74 GB. --scale
// shrinks the vocabulary and the layer count (bytes scale about linearly) for small machines.
// Two saves are timed: the first allocates the staging buffer (page faults in the copy), the
// second reuses it (the steady-state stall a save adds to a training step). Then verify (read
// every slice, check CRCs) and load (tp = 1 as saved, and resharded to one rank of tp = 2).
// --cold drops the checkpoint's pages from the page cache before each read phase (fadvise), so
// reads come from the disk; without it they may come from memory. Not a test: asserts nothing
// beyond the load returning the saved bytes.
//
//   kiln_bench_checkpoint [--scale S] [--dir DIR] [--cold] [--keep]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "parallel/comm_self.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using kernels::DType;
using parallel::Split;

struct Args {
  double scale = 1.0;
  std::string dir = (fs::temp_directory_path() / "kiln_bench_checkpoint").string();
  bool cold = false, keep = false;
};

struct Param {
  std::string name;
  kernels::Shape shape;
  Split split;
};

// GPT-2's parameters with Megatron's split kinds (tp = 1 here, but the kinds go into the manifest).
std::vector<Param> gpt2_params(double scale) {
  const int64_t C = 768, V = std::max<int64_t>(64, int64_t(std::llround(50304 * scale / 64)) * 64);
  const int L = std::max(1, int(std::lround(12 * scale)));
  std::vector<Param> ps{{"wte", {V, C}, Split::kRows}, {"wpe", {1024, C}, Split::kReplicated}};
  for (int l = 0; l < L; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    ps.push_back({h + "ln_1.weight", {C}, Split::kReplicated});
    ps.push_back({h + "ln_1.bias", {C}, Split::kReplicated});
    ps.push_back({h + "attn.c_attn.weight", {3 * C, C}, Split::kQkvRows});
    ps.push_back({h + "attn.c_attn.bias", {3 * C}, Split::kQkvRows});
    ps.push_back({h + "attn.c_proj.weight", {C, C}, Split::kCols});
    ps.push_back({h + "attn.c_proj.bias", {C}, Split::kReplicated});
    ps.push_back({h + "ln_2.weight", {C}, Split::kReplicated});
    ps.push_back({h + "ln_2.bias", {C}, Split::kReplicated});
    ps.push_back({h + "mlp.c_fc.weight", {4 * C, C}, Split::kRows});
    ps.push_back({h + "mlp.c_fc.bias", {4 * C}, Split::kRows});
    ps.push_back({h + "mlp.c_proj.weight", {C, 4 * C}, Split::kCols});
    ps.push_back({h + "mlp.c_proj.bias", {C}, Split::kReplicated});
  }
  ps.push_back({"ln_f.weight", {C}, Split::kReplicated});
  ps.push_back({"ln_f.bias", {C}, Split::kReplicated});
  return ps;
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void drop_cache(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

void row(const char* phase, double bytes, double s) {
  std::printf("| %-44s | %10.1f | %8.3f | %7.2f |\n", phase, bytes / 1e6, s, s > 0 ? bytes / s / 1e9 : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--scale" && i + 1 < argc) a.scale = std::atof(argv[++i]);
    else if (k == "--dir" && i + 1 < argc) a.dir = argv[++i];
    else if (k == "--cold") a.cold = true;
    else if (k == "--keep") a.keep = true;
    else {
      std::fprintf(stderr, "usage: kiln_bench_checkpoint [--scale S] [--dir DIR] [--cold] [--keep]\n");
      return 2;
    }
  }
  const std::vector<Param> params = gpt2_params(a.scale);
  struct Group {
    const char* prefix;
    DType dtype;
  } groups[] = {{"params/", DType::BF16}, {"master/", DType::F32}, {"adam_m/", DType::F32}, {"adam_v/", DType::F32}};

  // The training state, filled with non-zero bytes so every page is real.
  std::vector<std::vector<std::byte>> mem;
  std::vector<checkpoint::Piece> pieces;
  int64_t n_params = 0;
  for (const Param& p : params) n_params += p.shape.numel();
  for (const Group& g : groups)
    for (const Param& p : params) {
      checkpoint::Piece pc;
      pc.tensor = g.prefix + p.name;
      pc.dtype = g.dtype;
      pc.global_shape = p.shape;
      pc.split = p.split;
      pc.count = p.shape.numel();
      mem.emplace_back(size_t(pc.count) * kernels::dtype_size(g.dtype));
      for (size_t i = 0; i < mem.back().size(); ++i) mem.back()[i] = std::byte(uint8_t(i * 131 + 7));
      pc.data = mem.back().data();
      pieces.push_back(pc);
    }
  double bytes = 0;
  for (const auto& m : mem) bytes += double(m.size());
  std::printf("kiln_bench_checkpoint: GPT-2 124M x %.3g = %.1fM parameters, %zu tensors, %.1f MB (bf16 + fp32 "
              "master + 2 fp32 moments) -> %s%s\n",
              a.scale, n_params / 1e6, pieces.size(), bytes / 1e6, a.dir.c_str(), a.cold ? " (cold reads)" : "");
  fs::remove_all(a.dir);

  parallel::SelfComm self;
  checkpoint::Saver saver(a.dir, 1, self);
  checkpoint::RunState st;
  std::printf("| %-44s | %10s | %8s | %7s |\n", "phase", "MB", "seconds", "GB/s");
  std::printf("|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(12, '-').c_str(),
              std::string(10, '-').c_str(), std::string(9, '-').c_str());
  for (int64_t step = 1; step <= 2; ++step) {
    st.step = step;
    const auto t0 = Clock::now();
    saver.begin(st, pieces);
    const double begin_s = since(t0);
    saver.commit(true);
    const auto& s = saver.stats();
    row(step == 1 ? "save 1: begin() copy (fresh staging buffer)" : "save 2: begin() copy = step stall", bytes,
        begin_s);
    row(step == 1 ? "save 1: write + fsync (background thread)" : "save 2: write + fsync (background thread)", bytes,
        s.write_s);
    row(step == 1 ? "save 1: commit (manifest, fsyncs, renames)" : "save 2: commit (manifest, fsyncs, renames)", 0,
        s.commit_s);
  }
  const std::string ck = a.dir + "/step_00000002";
  if (a.cold) drop_cache(ck);
  auto t0 = Clock::now();
  const checkpoint::Manifest m = checkpoint::read_manifest(ck);
  checkpoint::verify(m);
  row("read_manifest + verify (read all, CRC32C)", bytes, since(t0));

  std::vector<std::vector<std::byte>> out;
  std::vector<checkpoint::Piece> reqs = pieces;
  for (auto& r : reqs) {
    out.emplace_back(size_t(r.count) * kernels::dtype_size(r.dtype));
    r.data = out.back().data();
  }
  if (a.cold) drop_cache(ck);
  t0 = Clock::now();
  checkpoint::load(m, reqs);
  row("load, same layout (tp = 1)", bytes, since(t0));
  for (size_t i = 0; i < reqs.size(); ++i)
    if (std::memcmp(out[i].data(), mem[i].data(), out[i].size()) != 0) {
      std::fprintf(stderr, "load returned different bytes for %s\n", reqs[i].tensor.c_str());
      return 1;
    }
  // One rank of tp = 2: half of each split tensor (strided for cols), whole replicated ones.
  double half_bytes = 0;
  for (auto& r : reqs) {
    r.tp = 2;
    r.count = parallel::local_shape(r.global_shape, r.split, 2).numel();
    half_bytes += double(r.count) * double(kernels::dtype_size(r.dtype));
  }
  if (a.cold) drop_cache(ck);
  t0 = Clock::now();
  checkpoint::load(m, reqs);
  row("load, resharded to tp = 2 (rank 0's share)", half_bytes, since(t0));
  if (!a.keep) fs::remove_all(a.dir);
  return 0;
}
