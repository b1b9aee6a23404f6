// kernels/cpu/ops_cpu.cpp
// The CPU reference backend's op table: the one place that wires names to functions.
// Read by kernels::ops_for(Device::kCpu) (backend.cpp) and by tests that loop over backends.
// Every entry must be set: backend.cpp refuses a table with a null entry.
#include "kernels/cpu/ops_cpu.h"

#include "kernels/cpu/adamw.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/softmax_xent.h"
#include "kernels/cpu/swiglu.h"
#include "kernels/cpu/xent_shard.h"

namespace kernels::cpu {

extern const Ops kOps = {
    .name = "cpu",
    .embedding_forward = embedding_forward,
    .embedding_backward = embedding_backward,
    .layernorm_forward = layernorm_forward,
    .residual_layernorm_forward = residual_layernorm_forward,
    .layernorm_backward = layernorm_backward,
    .matmul_forward = matmul_forward,
    .matmul_backward = matmul_backward,
    .attention_forward = attention_forward,
    .attention_backward = attention_backward,
    .attention_cached_forward = attention_cached_forward,
    .gelu_forward = gelu_forward,
    .gelu_backward = gelu_backward,
    .residual_forward = residual_forward,
    .rmsnorm_forward = rmsnorm_forward,
    .residual_rmsnorm_forward = residual_rmsnorm_forward,
    .rmsnorm_backward = rmsnorm_backward,
    .rope_forward = rope_forward,
    .rope_backward = rope_backward,
    .swiglu_forward = swiglu_forward,
    .swiglu_backward = swiglu_backward,
    .softmax_xent = softmax_xent,
    .xent_shard_max = xent_shard_max,
    .xent_shard_sumexp = xent_shard_sumexp,
    .xent_shard_finish = xent_shard_finish,
    .adamw_update = adamw_update,
    .sum_squares = sum_squares,
    .adamw_update_multi = adamw_update_multi,
    .sum_squares_multi = sum_squares_multi,
    .loss_mean_accumulate = loss_mean_accumulate,
    .cast = cast,
    .zero = zero,
};

}  // namespace kernels::cpu
