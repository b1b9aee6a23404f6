// kernels/cuda/attention_gqa.cu
// The CUDA backend's grouped-query attention entry points (kernels/ops.h: n_head query heads on
// n_kv_head key/value heads). bf16/fp16 at head size 64/128 go to the tensor-core flash kernels,
// which are grouped-query (flash_attention.h); the rest runs attention.cu's fp32 CUDA-core kernels,
// which take one head count, so there a grouped-query call stops with a message until they index k
// and v by h / (n_head / n_kv_head). The KV-cache kernel is multi-head only.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/ops_cuda.h"

namespace kernels::cuda {

// attention.cu's multi-head launchers (declared here only: the table reaches them through the
// grouped-query entry points below).
void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, Stream s);
void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, Stream s);
void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head, Stream s);

namespace {
void require_multi_head(const char* op, int n_head, int n_kv_head) {
  KILN_CHECK(n_kv_head == n_head, op_msg(op, "grouped-query attention (n_kv_head=" + std::to_string(n_kv_head) +
                                                 " < n_head=" + std::to_string(n_head) +
                                                 ") has no CUDA kernel in this build yet"));
}
}  // namespace

void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s) {
  const AttentionDims d = check_attention_forward(kDevice, out, lse, qkv, n_head, n_kv_head);
  if (flash_attention_applies(qkv.dtype, d.hs, {qkv, out})) return attention_gqa_forward(out, lse, qkv, n_head, n_kv_head, s);
  require_multi_head("attention_forward", n_head, n_kv_head);
  attention_forward(out, lse, qkv, n_head, s);
}

void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, int n_kv_head,
                        Stream s) {
  const AttentionDims d = check_attention_backward(kDevice, dqkv, dout, qkv, out, lse, n_head, n_kv_head);
  if (flash_attention_applies(qkv.dtype, d.hs, {dqkv, dout, qkv, out}))
    return attention_gqa_backward(dqkv, dout, qkv, out, lse, n_head, n_kv_head, s);
  require_multi_head("attention_backward", n_head, n_kv_head);
  attention_backward(dqkv, dout, qkv, out, lse, n_head, s);
}

void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head,
                              int n_kv_head, Stream s) {
  check_attention_cached_forward(kDevice, out, qkv, k_cache, v_cache, pos0, n_head, n_kv_head);
  require_multi_head("attention_cached_forward", n_head, n_kv_head);
  attention_cached_forward(out, qkv, k_cache, v_cache, pos0, n_head, s);
}

}  // namespace kernels::cuda
