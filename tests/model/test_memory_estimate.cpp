// tests/model/test_memory_estimate.cpp
// trainer/memory_estimate.h against what the model really allocates: for several shapes and
// precisions the estimate of the parameter arena plus the activations must equal, byte for byte,
// what Gpt2Model's constructor took from the host allocator (kernels::host_bytes_allocated_total,
// 64-byte rounding included). A new buffer in gpt2.cpp or params.cpp fails this test until
// memory_estimate.cpp counts it. Also: the overflow and not-enough-memory messages.
#include <gtest/gtest.h>

#include <limits>

#include "kernels/device.h"
#include "kernels/ops.h"
#include "tests/common/one_rank.h"
#include "tests/common/test_support.h"
#include "model/memory_estimate.h"
#include "model/gpt2.h"

namespace {

using kernels::DType;
using model::MemoryEstimate;
using model::MemoryShape;

struct Case {
  int L, C, F, NH, T, V, B;
  DType compute;
  int zero_dp;
};

configs::ModelConfig model_of(const Case& c) {
  configs::ModelConfig m;
  m.n_layer = c.L;
  m.d_model = c.C;
  m.d_ff = c.F;
  m.n_head = c.NH;
  m.seq_len = c.T;
  m.vocab_size = c.V;
  return m;
}

TEST(MemoryEstimate, EqualsWhatTheModelAllocates) {
  const std::vector<Case> cases = {
      {1, 16, 32, 2, 16, 256, 2, DType::F32, 0},     // the CLI tests' model
      {3, 48, 96, 4, 7, 130, 3, DType::F32, 0},      // odd sizes: 64-alignment gaps everywhere
      {2, 32, 128, 2, 9, 320, 1, DType::BF16, 0},    // separate compute copy, bf16 activations
      {2, 24, 40, 3, 5, 100, 2, DType::F16, 0},
      {4, 16, 64, 2, 8, 256, 2, DType::F32, 3},      // ZeRO-1 layout: length padded, no moments here
      {2, 16, 64, 2, 8, 200, 2, DType::BF16, 4},
      {1, 8, 8, 1, 1, 64, 1, DType::F64, 0},         // fp64 compute (gradient checks): fp64 statistics
  };
  for (const Case& c : cases) {
    MemoryShape s;
    s.model = model_of(c);
    s.micro_batch = c.B;
    s.zero_dp = c.zero_dp;
    s.compute = c.compute;
    s.master = c.compute == DType::F64 ? DType::F64 : DType::F32;
    const MemoryEstimate e = model::estimate_model_memory(s);
    ASSERT_TRUE(e.overflow.empty()) << e.overflow;

    const uint64_t before = kernels::host_bytes_allocated_total();
    model::Gpt2Model model(s.model, c.V, c.B, kernels::ops_for(kernels::Device::kCpu), kernels::Device::kCpu,
                             model::ModelPrecision{s.compute, s.master}, kiln_test::self_comm(), c.zero_dp);
    const uint64_t allocated = kernels::host_bytes_allocated_total() - before;
    const std::string what = "L=" + std::to_string(c.L) + " C=" + std::to_string(c.C) + " " +
                             kernels::dtype_name(c.compute) + " zero_dp=" + std::to_string(c.zero_dp);
    EXPECT_EQ(e.parameters, model.params().total_elements()) << what;
    EXPECT_EQ(uint64_t(e.master + e.compute + e.grads + e.moments + e.activations), allocated) << what;
    // The ZeRO-1 block belongs to GradSync and AdamW, not to the model; staging is off: the rest is the model.
    EXPECT_EQ(uint64_t(e.total - e.zero_shard), allocated) << what;
    EXPECT_EQ(e.zero_shard > 0, c.zero_dp > 0) << what;
  }
}

TEST(MemoryEstimate, DepthIsExtrapolatedExactly) {
  // 12 x n_layer specs are never listed: the per-layer growth of a 1- and a 2-layer arena is.
  MemoryShape s;
  s.model = model_of({7, 40, 72, 5, 6, 333, 2, DType::F32, 0});
  const MemoryEstimate e = model::estimate_model_memory(s);
  model::ParamArena arena(model::gpt2_param_specs(s.model, 333), kernels::Device::kCpu, DType::F32, DType::F32);
  EXPECT_EQ(e.parameters, arena.total_elements());
}

TEST(MemoryEstimate, ImpossibleSizesAreNamedNotWrapped) {
  MemoryShape s;
  s.model = model_of({1, 2000000000, 32, 2, 16, 256, 2, DType::F32, 0});
  MemoryEstimate e = model::estimate_model_memory(s);
  EXPECT_EQ(e.overflow, "3 x model.d_model x model.d_model = 12000000000000000000 elements (attn.c_attn.weight)");
  s.model = model_of({1, 64, 64, 2, 1 << 30, 1 << 30, 1 << 20, DType::F32, 0});
  s.micro_batch = 1 << 20;
  e = model::estimate_model_memory(s);
  EXPECT_EQ(e.overflow.rfind("model.vocab_size x model.d_model", 0), std::string::npos);
  EXPECT_EQ(e.overflow.rfind("train.micro_batch x model.seq_len x model.vocab_size", 0), 0u) << e.overflow;
  // Layers multiply a per-layer size that fits: the total is computed in 128 bits and saturates.
  s.model = model_of({2000000000, 16, 32, 2, 16, 256, 2, DType::F32, 0});
  s.micro_batch = 2;
  e = model::estimate_model_memory(s);
  EXPECT_TRUE(e.overflow.empty()) << e.overflow;
  EXPECT_GT(e.total, int64_t(2000000000) * 29440);
  EXPECT_EQ(e.activations_per_layer, 29440);  // 2 x 16 rows: 6 x (B,T,C) + 4 stats + qkv + atty + lse + 2 x (B,T,F)
  const std::string msg = kiln_test::input_error_of([&] { model::require_memory(s); });
  EXPECT_HAS(msg, "model does not fit in memory (model.n_layer=2000000000 ");
  EXPECT_HAS(msg, ") available on the cpu (");
}

TEST(MemoryEstimate, AvailableHostMemoryIsKnown) {
  const kernels::AvailableMemory a = kernels::available_memory(kernels::Device::kCpu);
  EXPECT_GT(a.bytes, uint64_t(1) << 20);
  EXPECT_FALSE(a.source.empty());
}

}  // namespace
