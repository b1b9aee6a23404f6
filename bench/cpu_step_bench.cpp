// bench/cpu_step_bench.cpp
// kiln_bench_cpu: milliseconds per fp32 training step on the CPU backend, through exactly what
// `kiln train` runs per step (model::Gpt2Model forward + backward, trainer::AdamW with its
// gradient-norm clip), on random tokens. bench/cpu_vs_torch.sh runs it against a PyTorch loop of the
// same model; it is also the quickest way to time a kernel change end to end.
//
//   kiln_bench_cpu [--shape demo|gpt2-124m] [--batch B] [--seq T] [--layers L] [--width C] [--heads H]
//                  [--ff F] [--warmup N] [--steps N] [--split]
//
// Shapes: demo = configs/tiny-cpu.yaml's model (4 layers, 4 heads, C 128, F 512, byte vocab 256,
// B16 T128); gpt2-124m = 12 layers, 12 heads, C 768, F 3072, V 50304 (50257 real), B4 T256. The
// other flags change one dimension of the chosen shape (e.g. to time a candidate demo model).
// Threads: OMP_NUM_THREADS (kiln's one pool; BLAS runs inside it, kernels/cpu/threads.h).
// Prints one line per timed step and a last line `ms/step median M mean A min m cpu-median c
// main-thread-cpu-median t` (what the script parses): wall-clock milliseconds, the process CPU time
// per step (all threads), and the main thread's own CPU time. With OMP_WAIT_POLICY=passive (no
// spinning) the main thread's time is its share of every parallel region plus every serial part:
// what a step takes on a quiet machine, measurable even on a busy one. --split adds forward / backward /
// optimizer medians. Not a test: asserts nothing.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "kernels/cpu/simd/isa.h"
#include "kernels/ops.h"
#include "kernels/rng.h"
#include "model/gpt2.h"
#include "parallel/comm_self.h"
#include "trainer/optimizer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string shape = "demo";
  int batch = 0, seq = 0;                        // 0: the shape's default
  int layers = 0, width = 0, heads = 0, ff = 0;  // 0: the shape's default
  int warmup = 2, steps = 10;
  bool split = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "kiln_bench_cpu: %s\nusage: kiln_bench_cpu [--shape demo|gpt2-124m] [--batch B] [--seq T] [--layers L] "
               "[--width C] [--heads H] [--ff F] [--warmup N] [--steps N] [--split]\n",
               why.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--split") {
      a.split = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + k);
    const std::string v = argv[++i];
    if (k == "--shape")
      a.shape = v;
    else if (k == "--batch")
      a.batch = std::atoi(v.c_str());
    else if (k == "--seq")
      a.seq = std::atoi(v.c_str());
    else if (k == "--layers")
      a.layers = std::atoi(v.c_str());
    else if (k == "--width")
      a.width = std::atoi(v.c_str());
    else if (k == "--heads")
      a.heads = std::atoi(v.c_str());
    else if (k == "--ff")
      a.ff = std::atoi(v.c_str());
    else if (k == "--warmup")
      a.warmup = std::atoi(v.c_str());
    else if (k == "--steps")
      a.steps = std::atoi(v.c_str());
    else
      usage("unknown flag " + k);
  }
  if (a.shape != "demo" && a.shape != "gpt2-124m") usage("--shape is demo or gpt2-124m, got " + a.shape);
  if (a.steps <= 0 || a.warmup < 0 || a.batch < 0 || a.seq < 0 || a.layers < 0 || a.width < 0 || a.heads < 0 ||
      a.ff < 0)
    usage("need --steps > 0 and the other values >= 0");
  return a;
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Process CPU time (all threads): time-slicing by other processes on a shared machine does not
// inflate it, so at one thread it is the robust number; at two it also counts barrier spinning.
double cpu_ms(clockid_t clock = CLOCK_PROCESS_CPUTIME_ID) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  configs::ModelConfig cfg;  // defaults: GPT-2 124M
  int vocab_real = 50257, B = 4;
  cfg.seq_len = 256;
  if (args.shape == "demo") {
    cfg.n_layer = 4;
    cfg.n_head = 4;
    cfg.d_model = 128;
    cfg.d_ff = 512;
    cfg.vocab_size = 256;
    cfg.seq_len = 128;
    vocab_real = 256;
    B = 16;
  }
  if (args.batch) B = args.batch;
  if (args.seq) cfg.seq_len = args.seq;
  if (args.layers) cfg.n_layer = args.layers;
  if (args.width) cfg.d_model = args.width;
  if (args.heads) cfg.n_head = args.heads;
  if (args.ff) cfg.d_ff = args.ff;
  if (cfg.d_model % cfg.n_head != 0) usage("--width must be a multiple of --heads");
  const kernels::Ops& ops = kernels::ops_for(kernels::Device::kCpu);
  std::printf("kiln_bench_cpu: %s L%d NH%d C%d F%d V%d, B%d T%d, fp32, %d OpenMP threads, cpu kernels %s\n",
              args.shape.c_str(), cfg.n_layer, cfg.n_head, cfg.d_model, cfg.d_ff, cfg.vocab_size, B, cfg.seq_len,
              omp_get_max_threads(), kernels::cpu::simd::isa_name(kernels::cpu::simd::active_isa()));

  parallel::SelfComm no_tp;  // one process: no tensor parallelism
  model::Gpt2Model model(cfg, vocab_real, B, ops, kernels::Device::kCpu, {kernels::DType::F32, kernels::DType::F32},
                         no_tp);
  model.params().init(1337, ops);
  configs::OptimConfig oc;  // GPT-2 defaults, grad_clip 1.0: the norm pass runs as in training
  trainer::AdamW opt(oc, model.params(), ops, {0, model.params().total_elements()});
  std::vector<int32_t> windows(size_t(B) * size_t(cfg.seq_len + 1));
  for (size_t i = 0; i < windows.size(); ++i) windows[i] = int32_t(kernels::uniform01(42, i) * vocab_real);

  std::vector<double> total, fwd, bwd, upd, cpu, main_cpu;
  for (int i = 0; i < args.warmup + args.steps; ++i) {
    const auto t0 = Clock::now();
    const double c0 = cpu_ms(), m0 = cpu_ms(CLOCK_THREAD_CPUTIME_ID);
    model.params().zero_grads(ops);
    const double loss = model.forward(windows);
    const double t_fwd = ms_since(t0);
    model.backward(1.0f);
    const double t_bwd = ms_since(t0);
    trainer::adamw_step_one_rank(opt, 3e-4, 1.0);
    const double t_all = ms_since(t0), t_cpu = cpu_ms() - c0, t_main = cpu_ms(CLOCK_THREAD_CPUTIME_ID) - m0;
    if (i < args.warmup) continue;
    total.push_back(t_all);
    cpu.push_back(t_cpu);
    main_cpu.push_back(t_main);
    fwd.push_back(t_fwd);
    bwd.push_back(t_bwd - t_fwd);
    upd.push_back(t_all - t_bwd);
    std::printf("step %d: %.1f ms, cpu %.1f ms (loss %.4f)\n", i - args.warmup + 1, t_all, t_cpu, loss);
    std::fflush(stdout);
  }
  if (args.split)
    std::printf("split median: forward %.1f ms, backward %.1f ms, optimizer %.1f ms\n", median(fwd), median(bwd),
                median(upd));
  double sum = 0;
  for (double t : total) sum += t;
  std::printf("ms/step median %.2f mean %.2f min %.2f cpu-median %.2f main-thread-cpu-median %.2f\n", median(total),
              sum / double(total.size()), *std::min_element(total.begin(), total.end()), median(cpu), median(main_cpu));
  return 0;
}
