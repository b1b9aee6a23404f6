// kernels/cudasim/ops_cudasim.cpp
// The `cudasim` op table (ops_cudasim.h): each entry relabels its host tensors as device tensors
// (the simulated CUDA backend checks that) and calls the CUDA entry point of the same name,
// compiled for the simulator. Compiled in kiln_cudasim, where kernels::cuda is spelled
// kernels::cudasim, so ops_cuda.h declares those entry points here (kernels/cudasim/CMakeLists.txt).
#include "kernels/cudasim/ops_cudasim.h"

#include "kernels/check.h"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cudasim {

namespace {

// A host tensor, as the simulated backend's view of device memory. A tensor already marked as
// device memory is refused: it may be real GPU memory, which the simulator cannot touch.
Tensor on_device(Tensor t) {
  if (t.empty()) return t;
  KILN_CHECK(t.device == Device::kCpu, "the cudasim op table works on host tensors (Device::kCpu), got a device tensor");
  t.device = Device::kCuda;
  return t;
}
template <class T>
T on_device(T x) {  // ints, floats, AdamWArgs, Stream pass through
  return x;
}

template <auto Fn>
struct Sim;
template <class... A, void (*Fn)(A...)>
struct Sim<Fn> {
  static void call(A... a) { Fn(on_device(a)...); }
};

}  // namespace

extern const Ops kOps = {
    .name = "cudasim",
    .embedding_forward = Sim<embedding_forward>::call,
    .embedding_backward = Sim<embedding_backward>::call,
    .layernorm_forward = Sim<layernorm_forward>::call,
    .residual_layernorm_forward = Sim<residual_layernorm_forward>::call,
    .layernorm_backward = Sim<layernorm_backward>::call,
    .matmul_forward = Sim<matmul_forward>::call,
    .matmul_backward = Sim<matmul_backward>::call,
    .attention_forward = Sim<attention_forward>::call,
    .attention_backward = Sim<attention_backward>::call,
    .attention_cached_forward = Sim<attention_cached_forward>::call,
    .gelu_forward = Sim<gelu_forward>::call,
    .gelu_backward = Sim<gelu_backward>::call,
    .residual_forward = Sim<residual_forward>::call,
    .rmsnorm_forward = Sim<rmsnorm_forward>::call,
    .residual_rmsnorm_forward = Sim<residual_rmsnorm_forward>::call,
    .rmsnorm_backward = Sim<rmsnorm_backward>::call,
    .rope_forward = Sim<rope_forward>::call,
    .rope_backward = Sim<rope_backward>::call,
    .swiglu_forward = Sim<swiglu_forward>::call,
    .swiglu_backward = Sim<swiglu_backward>::call,
    .softmax_xent = Sim<softmax_xent>::call,
    .xent_shard_max = Sim<xent_shard_max>::call,
    .xent_shard_sumexp = Sim<xent_shard_sumexp>::call,
    .xent_shard_finish = Sim<xent_shard_finish>::call,
    .adamw_update = Sim<adamw_update>::call,
    .sum_squares = Sim<sum_squares>::call,
    .adamw_update_multi = Sim<adamw_update_multi>::call,
    .sum_squares_multi = Sim<sum_squares_multi>::call,
    .loss_mean_accumulate = Sim<loss_mean_accumulate>::call,
    .cast = Sim<cast>::call,
    .zero = Sim<zero>::call,
};

}  // namespace kernels::cudasim
