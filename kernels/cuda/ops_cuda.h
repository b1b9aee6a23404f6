// kernels/cuda/ops_cuda.h
// The CUDA op table and its entry points, one per kernels/cuda/<name>.cu file (the same names and
// signatures as kernels/cpu/). Plain C++, pulls in no CUDA header. The switchboard
// (kernels/backend.cpp) reaches kOps through the CUDA plugin's table (kernels/cuda_plugin.h);
// tests/kernels_cuda include this header and link the plugin. Semantics, shapes and dtypes: kernels/ops.h.
#pragma once

#include "kernels/ops.h"

namespace kernels::cuda {

extern const Ops kOps;

// embedding.cu
void embedding_forward(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, int vocab_start, Stream s);
void embedding_backward(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, int vocab_start, Stream s);
// layernorm.cu
void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias, Stream s);
void residual_layernorm_forward(Tensor sum, Tensor out, Tensor mean, Tensor rstd, Tensor a, Tensor b, Tensor weight,
                                Tensor bias, Stream s);
void layernorm_backward(Tensor dx, Tensor dweight, Tensor dbias, Tensor dout, Tensor x, Tensor weight, Tensor mean,
                        Tensor rstd, Stream s);
// matmul.cu
void matmul_forward(Tensor out, Tensor inp, Tensor weight, Tensor bias, Stream s);
void matmul_backward(Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp, Tensor weight, Stream s);
// attention.cu (grouped-query; n_kv_head == n_head is multi-head)
void attention_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s);
void attention_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, int n_kv_head,
                        Stream s);
void attention_cached_forward(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head,
                              int n_kv_head, Stream s);
// gelu.cu
void gelu_forward(Tensor out, Tensor inp, Stream s);
void gelu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream s);
// elementwise.cu
void residual_forward(Tensor out, Tensor a, Tensor b, Stream s);
void cast(Tensor dst, Tensor src, Stream s);
void zero(Tensor x, Stream s);
// softmax_xent.cu
void softmax_xent(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, int vocab_real, float dloss, Stream s);
// xent_shard.cu
void xent_shard_max(Tensor row_max, Tensor logits, int vocab_start, int vocab_real, Stream s);
void xent_shard_sumexp(Tensor row_sumexp, Tensor target_logit, Tensor logits, Tensor targets, Tensor row_max,
                       int vocab_start, int vocab_real, Stream s);
void xent_shard_finish(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, Tensor row_max, Tensor row_sumexp,
                       Tensor target_logit, int vocab_start, int vocab_real, float dloss, Stream s);
// rmsnorm.cu
void rmsnorm_forward(Tensor out, Tensor rstd, Tensor x, Tensor weight, float eps, Stream s);
void residual_rmsnorm_forward(Tensor sum, Tensor out, Tensor rstd, Tensor a, Tensor b, Tensor weight, float eps,
                              Stream s);
void rmsnorm_backward(Tensor dx, Tensor dweight, Tensor dout, Tensor x, Tensor weight, Tensor rstd, Stream s);
// rope.cu
void rope_forward(Tensor qkv, int n_head, int n_kv_head, int pos0, float theta, Stream s);
void rope_backward(Tensor dqkv, int n_head, int n_kv_head, int pos0, float theta, Stream s);
// swiglu.cu
void swiglu_forward(Tensor out, Tensor inp, Stream s);
void swiglu_backward(Tensor dinp, Tensor dout, Tensor inp, Stream s);
// adamw.cu
void adamw_update(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, AdamWArgs args, Stream s);
void adamw_update_multi(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, Tensor segments,
                        AdamWArgs args, Stream s);
// reduce.cu
void sum_squares(Tensor out, Tensor x, Stream s);
void sum_squares_multi(Tensor out, Tensor x, Tensor segments, Stream s);
void loss_mean_accumulate(Tensor acc, Tensor losses, double count, double divisor, Stream s);

}  // namespace kernels::cuda
