// tests/trainer/test_cuda_training.cpp
// The model on the CUDA backend: the first 20 AdamW steps of a small GPT-2 (and, in fp32, of a
// small grouped-query Llama) on the GPU reproduce the CPU's losses, within 1e-4 relative in fp32
// and 2e-2 in bf16 (against the CPU's bf16 emulation), on a fresh batch every step, with a padded vocabulary and ignored targets. Also
// checks that gradients survive the whole path (grad norms agree) and that the GPU run is
// deterministic. Skips without a GPU (label cpu binary: test_trainer).
// The same 20 steps on the `cudasim` table (the CUDA kernels on the CPU simulator, host memory)
// run everywhere: fp32 losses within 1e-4 of the CPU's, for that GPT-2 and for a small grouped-query
// Llama; train.device: cudasim resolves to that table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "kernels/cudasim/ops_cudasim.h"
#include "kernels/rng.h"
#include "model/model.h"
#include "trainer/optimizer.h"
#include "model/placement.h"
#include "tests/common/one_rank.h"

namespace {

using kernels::Device;
using kernels::DType;

configs::ModelConfig cuda_test_model() {
  configs::ModelConfig m;
  m.vocab_size = 128;  // padded; the real vocabulary is 100
  m.seq_len = 64;
  m.n_layer = 2;
  m.n_head = 4;  // head size 24: not a multiple of the attention kernel's 32-wide padding
  m.d_model = 96;
  m.d_ff = 384;
  return m;
}
// A Llama of the same size with grouped-query attention: 4 query heads on 2 key/value heads (head
// size 24), untied head, SwiGLU hidden 256.
configs::ModelConfig cuda_test_llama() {
  configs::ModelConfig m = cuda_test_model();
  m.arch = "llama";
  m.n_kv_head = 2;
  m.d_ff = 256;
  return m;
}
constexpr int kVocabReal = 100;
constexpr int kBatch = 4;

struct TrainRun {
  std::vector<double> losses, grad_norms;
};

// 20 steps, each on its own random batch (a pure function of the step); the last row of every
// batch is cut short so some targets are ignored.
TrainRun train_20_steps(const kernels::Ops& ops, Device device, DType compute,
                        const configs::ModelConfig& cfg = cuda_test_model()) {
  const std::unique_ptr<model::Model> m =
      model::make_model(cfg, kVocabReal, kBatch, ops, device, {compute, DType::F32}, kiln_test::self_comm());
  model::Model& model = *m;
  model.params().init(2024, ops);
  configs::OptimConfig oc;
  oc.weight_decay = 0.1;
  trainer::AdamW opt(oc, model.params(), ops, {0, model.params().total_elements()});
  TrainRun r;
  for (int step = 0; step < 20; ++step) {
    std::vector<int32_t> w(size_t(kBatch) * (cfg.seq_len + 1));
    for (size_t i = 0; i < w.size(); ++i) w[i] = int32_t(kernels::uniform01(kernels::mix(77, step), i) * kVocabReal);
    model.params().zero_grads(ops);
    r.losses.push_back(model.forward(w, step % 2 ? kBatch : kBatch - 1));  // odd steps: a short batch
    model.backward(1.0f);
    r.grad_norms.push_back(trainer::adamw_step_one_rank(opt, 1e-3, 1.0).grad_norm);
  }
  return r;
}

double worst_relative(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / std::fabs(b[i]));
  return worst;
}

// The GPU's ops on device memory, or the simulator's (`cudasim`) on host memory.
void compare(DType compute, double tol, bool simulated = false,
             const configs::ModelConfig& cfg = cuda_test_model()) {
  const char* name = simulated ? "cudasim" : "cuda";
  const TrainRun cpu = train_20_steps(kernels::ops_for(Device::kCpu), Device::kCpu, compute, cfg);
  const TrainRun gpu = simulated ? train_20_steps(kernels::cudasim::kOps, Device::kCpu, compute, cfg)
                                 : train_20_steps(kernels::ops_for(Device::kCuda), Device::kCuda, compute, cfg);
  ASSERT_EQ(cpu.losses.size(), gpu.losses.size());
  for (size_t i = 0; i < cpu.losses.size(); ++i)
    std::printf("[%s-training %s %s] step %2zu  loss cpu %.6f gpu %.6f  grad norm cpu %.5f gpu %.5f\n", name,
                cfg.arch.c_str(), kernels::dtype_name(compute), i, cpu.losses[i], gpu.losses[i], cpu.grad_norms[i], gpu.grad_norms[i]);
  const double loss_err = worst_relative(gpu.losses, cpu.losses);
  const double norm_err = worst_relative(gpu.grad_norms, cpu.grad_norms);
  std::printf("[%s-training %s %s] worst relative difference: loss %.3e, grad norm %.3e (tol %.0e)\n", name,
              cfg.arch.c_str(), kernels::dtype_name(compute), loss_err, norm_err, tol);
  EXPECT_LT(loss_err, tol);
  EXPECT_LT(norm_err, 10 * tol) << "gradients differ although losses agree";
  EXPECT_LT(gpu.losses.back(), gpu.losses.front()) << "the GPU run must learn";
}

TEST(CudaTraining, Fp32LossesMatchCpu) {
  if (kernels::gpu_count() == 0) GTEST_SKIP() << "no GPU";
  compare(DType::F32, 1e-4);
}

TEST(CudaTraining, Fp32LlamaGqaLossesMatchCpu) {
  if (kernels::gpu_count() == 0) GTEST_SKIP() << "no GPU";
  compare(DType::F32, 1e-4, /*simulated=*/false, cuda_test_llama());
}

TEST(CudaTraining, Bf16LossesMatchCpuEmulation) {
  if (kernels::gpu_count() == 0) GTEST_SKIP() << "no GPU";
  compare(DType::BF16, 2e-2);
}

TEST(CudaTraining, GpuRunIsDeterministic) {
  if (kernels::gpu_count() == 0) GTEST_SKIP() << "no GPU";
  const kernels::Ops& ops = kernels::ops_for(Device::kCuda);
  const TrainRun a = train_20_steps(ops, Device::kCuda, DType::BF16), b = train_20_steps(ops, Device::kCuda, DType::BF16);
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_EQ(a.grad_norms, b.grad_norms);
}

// Every CI run: the CUDA kernels, simulated, train the model as the CPU does.
TEST(CudasimTraining, Fp32LossesMatchCpu) { compare(DType::F32, 1e-4, /*simulated=*/true); }

// The same for the Llama path: RMSNorm, RoPE, SwiGLU and grouped-query attention (forward and the
// dK/dV group sums of backward) on the simulated CUDA kernels.
TEST(CudasimTraining, Fp32LlamaGqaLossesMatchCpu) {
  const configs::ModelConfig cfg = cuda_test_llama();
  ASSERT_LT(cfg.kv_heads(), cfg.n_head);
  compare(DType::F32, 1e-4, /*simulated=*/true, cfg);
}

// train.device: cudasim picks the simulator's table, host memory and the GPU's default precision.
TEST(CudasimTraining, TrainDeviceCudasimResolves) {
  configs::TrainConfig t;
  t.device = "cudasim";
  const model::Placement r = model::resolve_placement(t);
  EXPECT_TRUE(r.simulated);
  EXPECT_EQ(r.device, Device::kCpu);
  EXPECT_EQ(r.precision, DType::BF16);
  EXPECT_STREQ(model::ops_for(r).name, "cudasim");
  EXPECT_STREQ(model::placement_name(r), "cudasim");
  t.device = "cpu";
  EXPECT_STREQ(model::ops_for(model::resolve_placement(t)).name, "cpu");
}

}  // namespace
