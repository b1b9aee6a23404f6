// kernels/cuda/ops_cuda.cu
// The CUDA backend's op table: the one place that wires names to the GPU entry points.
// Read by kernels::ops_for(Device::kCuda) (backend.cpp), which refuses a table with a null entry,
// and by tests/kernels_cuda. Every entry is set.
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

extern const Ops kOps = {
    .name = "cuda",
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

}  // namespace kernels::cuda
