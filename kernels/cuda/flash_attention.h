// kernels/cuda/flash_attention.h
// Causal flash attention on tensor cores (kernels/cuda/flash_attention.cu): bf16 or fp16 q, k, v,
// fp32 accumulation and statistics, head sizes 64 and 128, grouped-query attention (n_kv_head
// kv heads shared by n_head query heads). The CUDA backend's attention_forward/backward
// (attention.cu) send the calls it supports here; other dtypes and head sizes stay on the
// CUDA-core kernels (attention_kernels.cuh), grouped-query too. Plain C++ (no CUDA header): the tests call the GQA
// entry points directly. Semantics as kernels/ops.h's attention ops.
#pragma once

#include <initializer_list>

#include "kernels/device.h"
#include "kernels/tensor.h"

namespace kernels::cuda {

// True when the flash kernels take a call: 16-bit dtype (bf16/fp16), head size 64 or 128, and
// every tensor's data 16-byte aligned (the kernels move 16 bytes at a time).
bool flash_attention_applies(DType dtype, int64_t head_size, std::initializer_list<Tensor> tensors);

// qkv (B,T,(NH + 2*NKV)*hs) holds per token NH query heads, then NKV key heads, then NKV value
// heads; query head h reads kv head h / (NH / NKV). out (B,T,NH*hs) = causal softmax(q k^T /
// sqrt(hs)) v; lse (B,NH,T) fp32 = logsumexp of each scaled score row. With NKV == NH this is
// exactly attention_forward (qkv = q|k|v).
void attention_gqa_forward(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s);
// dqkv (same shape as qkv) overwritten: dq per query head, dk/dv per kv head summed over the
// query heads that read it.
void attention_gqa_backward(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head, int n_kv_head,
                            Stream s);

}  // namespace kernels::cuda
