// bench/gpt2_gpu_bench.cpp
// kiln_bench_gpt2: end-to-end training throughput of GPT-2 124M on one GPU through the CUDA op
// table (model::Gpt2Model + trainer::AdamW, exactly what `kiln train` runs per micro-step).
//
// Model: 12 layers, 12 heads, d_model 768, d_ff 3072, vocab 50304 (50257 real), T 1024, bf16
// activations with fp32 master weights, gradients and moments. Random tokens (throughput does not
// depend on the data). For each micro-batch size: build the model, warm up (cuBLASLt heuristics,
// scratch buffers), then time N full steps (zero grads, forward, backward, AdamW) with CUDA
// events on the stream the model uses, and print one table row:
//   B, ms/step (and its forward / backward / optimizer split), tokens/s,
//   MFU = tokens/s * FLOPs/token / 989.4e12 (FLOPs/token = 6N + 12 L C T, trainer/flops.h;
//   989.4e12 is the dense bf16 peak of an H100 SXM), peak memory (kiln's own allocations and
//   the whole device as cudaMemGetInfo sees it).
// Without a GPU it prints "no GPU visible: benchmark skipped" and exits 0. Not a test.
//
//   kiln_bench_gpt2 [--batches 16,32] [--warmup 3] [--steps 10] [--precision bf16|fp16|fp32]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cuda/device_cuda.h"
#include "kernels/ops.h"
#include "kernels/rng.h"
#include "model/flops.h"
#include "model/gpt2.h"
#include "parallel/comm_self.h"
#include "trainer/optimizer.h"

namespace {

using kernels::Device;
using kernels::DType;

struct Args {
  std::vector<int> batches{16, 32};
  int warmup = 3;
  int steps = 10;
  DType precision = DType::BF16;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "kiln_bench_gpt2: %s\nusage: kiln_bench_gpt2 [--batches 16,32] [--warmup 3] [--steps 10] "
               "[--precision bf16|fp16|fp32]\n",
               why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + k).c_str());
    const std::string v = argv[++i];
    if (k == "--batches") {
      a.batches.clear();
      std::stringstream ss(v);
      for (std::string item; std::getline(ss, item, ',');) a.batches.push_back(std::atoi(item.c_str()));
    } else if (k == "--warmup") {
      a.warmup = std::atoi(v.c_str());
    } else if (k == "--steps") {
      a.steps = std::atoi(v.c_str());
    } else if (k == "--precision") {
      if (!kernels::parse_precision(v, &a.precision)) usage(("bad precision " + v).c_str());
    } else {
      usage(("unknown flag " + k).c_str());
    }
  }
  for (int b : a.batches)
    if (b <= 0) usage("batch sizes must be positive");
  if (a.steps <= 0 || a.warmup < 0) usage("need --steps > 0 and --warmup >= 0");
  return a;
}

struct Row {
  int B = 0;
  double ms = 0, fwd_ms = 0, bwd_ms = 0, opt_ms = 0, tokens_per_s = 0, mfu = 0;
  double peak_gib = 0, device_used_gib = 0;
};

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

Row run(const configs::ModelConfig& cfg, int vocab_real, int B, const Args& args) {
  const kernels::Ops& ops = kernels::ops_for(Device::kCuda);
  kernels::cuda::reset_peak_memory();
  Row row;
  row.B = B;
  {
    parallel::SelfComm no_tp;  // one GPU: no tensor parallelism
    model::Gpt2Model model(cfg, vocab_real, B, ops, Device::kCuda, {args.precision, DType::F32}, no_tp);
    model.params().init(1337, ops);
    configs::OptimConfig oc;  // GPT-2 defaults: lr schedule does not matter for speed
    trainer::AdamW opt(oc, model.params(), ops, {0, model.params().total_elements()});
    std::vector<int32_t> windows(size_t(B) * (cfg.seq_len + 1));
    for (size_t i = 0; i < windows.size(); ++i) windows[i] = int32_t(kernels::uniform01(42, i) * vocab_real);

    const kernels::Stream stream{};  // the model issues every op on the default stream
    kernels::cuda::EventTimer total, fwd, bwd, upd;
    auto step = [&](bool timed) {
      if (timed) fwd.start(stream);
      model.params().zero_grads(ops);
      model.forward(windows);  // ends with a device-to-host copy of the losses
      if (timed) {
        fwd.stop(stream);
        bwd.start(stream);
      }
      model.backward(1.0f);
      if (timed) {
        bwd.stop(stream);
        upd.start(stream);
      }
      trainer::adamw_step_one_rank(opt, 3e-4, 1.0);  // reads the gradient norm back: a host synchronization
      if (timed) {
        upd.stop(stream);
        row.fwd_ms += fwd.elapsed_ms();
        row.bwd_ms += bwd.elapsed_ms();
        row.opt_ms += upd.elapsed_ms();
      }
    };
    for (int i = 0; i < args.warmup; ++i) step(false);
    kernels::device_synchronize(Device::kCuda);
    total.start(stream);
    for (int i = 0; i < args.steps; ++i) step(true);
    total.stop(stream);
    row.ms = total.elapsed_ms() / args.steps;
    row.fwd_ms /= args.steps;
    row.bwd_ms /= args.steps;
    row.opt_ms /= args.steps;
    const kernels::cuda::MemoryStats mem = kernels::cuda::memory_stats();  // while the model is alive
    row.peak_gib = double(mem.peak_allocated) / kGiB;
    row.device_used_gib = double(mem.device_used) / kGiB;
  }
  const double tokens = double(B) * cfg.seq_len;
  row.tokens_per_s = tokens / (row.ms * 1e-3);
  row.mfu = row.tokens_per_s * model::flops_per_token(cfg) / model::kH100PeakFlops;
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  if (kernels::gpu_count() == 0) {
    std::printf("no GPU visible: benchmark skipped\n");
    return 0;
  }
  if (!kernels::cuda_backend_ready()) {
    std::fprintf(stderr, "kiln_bench_gpt2: the CUDA backend is not complete in this build\n");
    return 1;
  }
  configs::ModelConfig cfg;  // defaults are GPT-2 124M: L12 NH12 C768 F3072 V50304 T1024
  const int vocab_real = 50257;
  std::printf("kiln_bench_gpt2: GPT-2 124M (L%d NH%d C%d F%d V%d T%d), %s activations, fp32 master/grads/AdamW\n",
              cfg.n_layer, cfg.n_head, cfg.d_model, cfg.d_ff, cfg.vocab_size, cfg.seq_len,
              kernels::dtype_name(args.precision));
  std::printf("device: %s; CUDA %s; %d warm-up + %d timed steps per row; FLOPs/token %.4e; MFU vs %.1f TFLOP/s\n",
              kernels::cuda::device_name().c_str(), kernels::cuda::runtime_version().c_str(), args.warmup, args.steps,
              model::flops_per_token(cfg), model::kH100PeakFlops / 1e12);
  std::printf("\n| %4s | %9s | %8s | %8s | %8s | %10s | %6s | %14s | %16s |\n", "B", "ms/step", "fwd ms", "bwd ms",
              "optim ms", "tokens/s", "MFU", "peak kiln GiB", "device used GiB");
  std::printf(
      "|------|-----------|----------|----------|----------|------------|--------|----------------|------------------|"
      "\n");
  for (int B : args.batches) {
    const Row r = run(cfg, vocab_real, B, args);
    std::printf("| %4d | %9.2f | %8.2f | %8.2f | %8.2f | %10.0f | %5.1f%% | %14.2f | %16.2f |\n", r.B, r.ms, r.fwd_ms,
                r.bwd_ms, r.opt_ms, r.tokens_per_s, 100.0 * r.mfu, r.peak_gib, r.device_used_gib);
    std::fflush(stdout);
  }
  return 0;
}
