// kernels/op_checks.h
// Each op's argument checks, written once for every backend: the CPU entry points (kernels/cpu/*.cpp)
// and the CUDA launchers (kernels/cuda/*.cu) call the same check_<op>() with their own Device, so a
// bad call gets the same message wherever it runs and a new rule is added in one place.
//
// What is checked here: presence of required tensors, that every tensor given lives in the memory of
// the backend's device, shapes and element counts, and the scalar arguments (n_head, vocab_real, ...)
// against the contract in kernels/ops.h. Each check returns the dimensions the launcher needs.
// What stays per backend: which dtypes it accepts (the CPU widens bf16/fp16, the GPU keeps one
// compute dtype), limits of a particular kernel (the CUDA head-size maximum), and checks that read
// tensor data (the CPU checks token ids on the host; the GPU traps on the device).
// Plain C++: included by .cpp and .cu files alike; the definitions are in op_checks.cpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "kernels/check.h"
#include "kernels/ops.h"
#include "kernels/tensor.h"

namespace kernels {

inline std::string op_msg(const char* op, const std::string& what) { return std::string(op) + ": " + what; }

struct NamedTensor {
  const char* name;
  const Tensor* t;
};

// ---- building blocks ----------------------------------------------------------------------------

void check_shape(const char* op, const char* name, const Tensor& t, Shape want);
void check_numel(const char* op, const char* name, const Tensor& t, int64_t want);
// A non-empty tensor lives where backend `dev` computes (host memory for the CPU, device memory for CUDA).
void check_device(const char* op, const char* name, const Tensor& t, Device dev);
// Required: non-empty, and on `dev`.
void check_present(const char* op, const char* name, const Tensor& t, Device dev);
void check_present(const char* op, std::initializer_list<NamedTensor> ts, Device dev);
// Required, on `dev`, int32.
void check_int32(const char* op, const char* name, const Tensor& t, Device dev);

// Last dimension of a tensor (the channel count of an (N, C) or (B, T, C) activation).
inline int64_t last_dim(const Tensor& t) { return t.shape.ndim ? t.shape[t.shape.ndim - 1] : 0; }

// An output that may be computed in place: it either is `in` exactly or does not overlap it (a
// partial overlap would let one row's writes clobber another row's reads).
void check_alias_or_disjoint(const char* op, const char* out_name, const Tensor& out, const char* in_name,
                             const Tensor& in);
// An output that must not share any memory with `in`.
void check_disjoint(const char* op, const char* out_name, const Tensor& out, const char* in_name, const Tensor& in);

// ---- one check per op (the order of kernels/ops.h) ---------------------------------------------

struct EmbeddingDims {
  int64_t B = 0, T = 0, C = 0, rows = 0;  // rows: this shard's vocabulary rows of wte
};
EmbeddingDims check_embedding_forward(Device dev, const Tensor& out, const Tensor& tokens, const Tensor& wte,
                                      const Tensor& wpe);
EmbeddingDims check_embedding_backward(Device dev, const Tensor& dwte, const Tensor& dwpe, const Tensor& dout,
                                       const Tensor& tokens);

struct RowDims {
  int64_t N = 0, C = 0;  // rows, and the last dimension (channels or vocabulary columns)
};
RowDims check_layernorm_forward(Device dev, const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                                const Tensor& weight, const Tensor& bias);
// sum may alias a or b exactly; out stands apart from all three (it is read from sum).
RowDims check_residual_layernorm_forward(Device dev, const Tensor& sum, const Tensor& out, const Tensor& mean,
                                         const Tensor& rstd, const Tensor& a, const Tensor& b, const Tensor& weight,
                                         const Tensor& bias);
RowDims check_layernorm_backward(Device dev, const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                                 const Tensor& dout, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                 const Tensor& rstd);

struct LinearDims {
  int64_t N = 0, IC = 0, OC = 0;
};
LinearDims check_matmul_forward(Device dev, const Tensor& out, const Tensor& inp, const Tensor& weight,
                                const Tensor& bias);
LinearDims check_matmul_backward(Device dev, const Tensor& dinp, const Tensor& dweight, const Tensor& dbias,
                                 const Tensor& dout, const Tensor& inp, const Tensor& weight);

struct AttentionDims {
  int64_t B = 0, T = 0;
  int64_t C = 0;    // query channels NH*hs: the width of out (and of each of q's rows)
  int64_t NH = 0, NKV = 0, hs = 0;
  int64_t W = 0;    // qkv's width (NH + 2*NKV)*hs
};
AttentionDims check_attention_forward(Device dev, const Tensor& out, const Tensor& lse, const Tensor& qkv, int n_head,
                                      int n_kv_head);
AttentionDims check_attention_backward(Device dev, const Tensor& dqkv, const Tensor& dout, const Tensor& qkv,
                                       const Tensor& out, const Tensor& lse, int n_head, int n_kv_head);
// T is the number of new tokens (qkv's rows).
AttentionDims check_attention_cached_forward(Device dev, const Tensor& out, const Tensor& qkv, const Tensor& k_cache,
                                             const Tensor& v_cache, int pos0, int n_head, int n_kv_head);
// RMSNorm: N rows of C channels.
RowDims check_rmsnorm_forward(Device dev, const Tensor& out, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                              float eps);
RowDims check_residual_rmsnorm_forward(Device dev, const Tensor& sum, const Tensor& out, const Tensor& rstd,
                                       const Tensor& a, const Tensor& b, const Tensor& weight, float eps);
RowDims check_rmsnorm_backward(Device dev, const Tensor& dx, const Tensor& dweight, const Tensor& dout, const Tensor& x,
                               const Tensor& weight, const Tensor& rstd);
// Rotary embedding on a (B,T,(NH+2*NKV)*hs) qkv (or its gradient): hs even, pos0 >= 0, theta > 0.
AttentionDims check_rope_forward(Device dev, const Tensor& qkv, int n_head, int n_kv_head, int pos0, float theta);
AttentionDims check_rope_backward(Device dev, const Tensor& dqkv, int n_head, int n_kv_head, int pos0, float theta);
// SwiGLU: N rows; C = F, the output's width (the input is 2F wide).
RowDims check_swiglu_forward(Device dev, const Tensor& out, const Tensor& inp);
RowDims check_swiglu_backward(Device dev, const Tensor& dinp, const Tensor& dout, const Tensor& inp);

// Elementwise ops: return the element count.
int64_t check_gelu_forward(Device dev, const Tensor& out, const Tensor& inp);
int64_t check_gelu_backward(Device dev, const Tensor& dinp, const Tensor& dout, const Tensor& inp);
int64_t check_residual_forward(Device dev, const Tensor& out, const Tensor& a, const Tensor& b);

// Row-wise cross-entropy: N rows of C = V (or Vs) columns.
RowDims check_softmax_xent(Device dev, const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                           const Tensor& targets, int vocab_real);
RowDims check_xent_shard_max(Device dev, const Tensor& row_max, const Tensor& logits);
RowDims check_xent_shard_sumexp(Device dev, const Tensor& row_sumexp, const Tensor& target_logit, const Tensor& logits,
                                const Tensor& targets, const Tensor& row_max);
RowDims check_xent_shard_finish(Device dev, const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                const Tensor& targets, const Tensor& row_max, const Tensor& row_sumexp,
                                const Tensor& target_logit);

// Returns the element count.
int64_t check_adamw_update(Device dev, const Tensor& master, const Tensor& compute, const Tensor& grad, const Tensor& m,
                           const Tensor& v, const AdamWArgs& args);
int64_t check_sum_squares(Device dev, const Tensor& out, const Tensor& x);
// Returns N, the losses' element count.
int64_t check_loss_mean_accumulate(Device dev, const Tensor& acc, const Tensor& losses, double count, double divisor);
// The multi-tensor forms (segment tables: kernels/segments.h). Return the element count N; the
// table's row count comes back in *rows.
int64_t check_adamw_update_multi(Device dev, const Tensor& master, const Tensor& compute, const Tensor& grad,
                                 const Tensor& m, const Tensor& v, const Tensor& segments, const AdamWArgs& args,
                                 int64_t* rows);
int64_t check_sum_squares_multi(Device dev, const Tensor& out, const Tensor& x, const Tensor& segments, int64_t* rows);
// Converting in place between different widths would overwrite elements before reading them: dst
// and src must not overlap unless the dtypes are equal (a backend may refuse more).
int64_t check_cast(Device dev, const Tensor& dst, const Tensor& src);

}  // namespace kernels
