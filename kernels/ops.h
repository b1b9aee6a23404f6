// kernels/ops.h
// The op table: the one typed seam between the model and a backend (CPU reference, CUDA).
//
// Shapes use: B batch, T sequence, C channels (d_model), NH query heads, NKV key/value heads, hs head
// size, F MLP hidden units, V padded vocab, N = B*T rows, IC/OC matmul in/out channels. All tensors
// are contiguous and row-major.
//
// Dtypes: "float" tensors may be fp32, bf16 or fp16 (the compute dtype), or fp64 (the CPU backend
// only, for gradient checks). Integer tensors (tokens, targets) are int32. Statistics saved for
// backward (LayerNorm mean/rstd, RMSNorm rstd, attention logsumexp) and losses are fp32 (fp64 when
// the op runs in fp64). Parameter gradients may be fp32 while activations are bf16: backends accept
// that mix.
//
// Accumulation convention, so gradient accumulation and residual streams need no extra passes:
//  - parameter gradients (dweight, dbias, dwte, dwpe) are ACCUMULATED (+=);
//  - layernorm_backward and rmsnorm_backward also ACCUMULATE into dx (they sit on the residual stream);
//  - rope_forward / rope_backward work in place;
//  - every other output is OVERWRITTEN.
// An empty Tensor means "absent" where the comment says optional.
#pragma once

#include <vector>

#include "kernels/device.h"
#include "kernels/tensor.h"

namespace kernels {

// LayerNorm's epsilon (GPT-2's), inside the square root: rstd = 1 / sqrt(var + eps). Every backend
// and the Hugging Face export (layer_norm_epsilon) read this one constant.
inline constexpr double kLayernormEps = 1e-5;

struct AdamWArgs {
  float lr = 0.f;
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  float weight_decay = 0.f;  // decoupled: param -= lr * wd * param
  float grad_scale = 1.f;    // grads are multiplied by this first (clipping, loss-scale removal)
  int step = 1;              // 1-based, for bias correction
};

struct Ops {
  const char* name;

  // out(B,T,C) = wte[tokens[b,t] - vocab_start] + wpe[t].   tokens (B,T) int32; wte (Vs,C) holds
  // the rows of global ids [vocab_start, vocab_start + Vs) (all of them without tensor parallelism,
  // one shard of a vocab-parallel embedding otherwise): ids outside that range contribute zero.
  // wpe (maxT,C) optional: without it no positions are added.
  void (*embedding_forward)(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, int vocab_start, Stream s);
  // dwte (Vs,C) += scatter of dout for the ids in range; dwpe (maxT,C) optional += sum over batch.
  void (*embedding_backward)(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, int vocab_start, Stream s);

  // out(N,C) = (x - mean) * rstd * weight + bias; mean, rstd (N) fp32 saved.  eps = kLayernormEps.
  void (*layernorm_forward)(Tensor out, Tensor mean, Tensor rstd, Tensor x, Tensor weight,
                            Tensor bias, Stream s);
  // The residual add fused in front of LayerNorm (GPT-2's ln_2, the next layer's ln_1, ln_f), one
  // pass over the stream instead of two: sum (N,C) = a + b, then out, mean, rstd = layernorm of sum
  // as stored (rounded to its dtype, so forward and layernorm_backward see the same x), exactly
  // residual_forward followed by layernorm_forward. sum may alias a or b exactly. eps = kLayernormEps.
  void (*residual_layernorm_forward)(Tensor sum, Tensor out, Tensor mean, Tensor rstd, Tensor a, Tensor b,
                                     Tensor weight, Tensor bias, Stream s);
  // dx (N,C) +=, dweight (C) +=, dbias (C) +=.
  void (*layernorm_backward)(Tensor dx, Tensor dweight, Tensor dbias, Tensor dout, Tensor x,
                             Tensor weight, Tensor mean, Tensor rstd, Stream s);

  // out(N,OC) = inp(N,IC) @ weight(OC,IC)^T + bias(OC).  bias optional.
  void (*matmul_forward)(Tensor out, Tensor inp, Tensor weight, Tensor bias, Stream s);
  // dinp (N,IC) = dout @ weight (overwritten); dweight (OC,IC) += dout^T @ inp; dbias (OC) += sum dout.
  // dinp optional (skip it for the first layer), dbias optional.
  void (*matmul_backward)(Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp,
                          Tensor weight, Stream s);

  // Causal self-attention with grouped-query heads (GQA). NH query heads share NKV key/value heads
  // (NKV divides NH; NKV = NH is plain multi-head attention, GPT-2): query head h reads key/value
  // head h / (NH/NKV). qkv (B,T,(NH+2*NKV)*hs) holds q|k|v per token: NH heads of q, then NKV heads
  // of k, then NKV of v, each head hs consecutive channels (GPT-2: (B,T,3C)).
  // out (B,T,NH*hs) = softmax(q k^T / sqrt(hs), causal) v; lse (B,NH,T) fp32 = logsumexp of each
  // score row, saved so backward can rebuild the probabilities without storing (T,T) per head.
  void (*attention_forward)(Tensor out, Tensor lse, Tensor qkv, int n_head, int n_kv_head, Stream s);
  // dqkv (B,T,(NH+2*NKV)*hs) overwritten (dk, dv summed over the query heads of their group).
  void (*attention_backward)(Tensor dqkv, Tensor dout, Tensor qkv, Tensor out, Tensor lse, int n_head,
                             int n_kv_head, Stream s);

  // Attention over a KV cache, for generation (one sequence; B = 1). qkv (n,(NH+2*NKV)*hs) holds
  // q|k|v of n new tokens at positions pos0 .. pos0+n-1. Their k and v are first written into rows
  // pos0 .. pos0+n-1 of k_cache, v_cache (maxT, NKV*hs: the cache holds NKV heads); then out
  // (n,NH*hs) = softmax(q k^T / sqrt(hs)) v with new token i attending to cache rows 0 .. pos0+i.
  // Equals attention_forward's rows for those positions when the cache holds the earlier tokens'
  // k and v. Forward only.
  void (*attention_cached_forward)(Tensor out, Tensor qkv, Tensor k_cache, Tensor v_cache, int pos0, int n_head,
                                   int n_kv_head, Stream s);

  // GELU, tanh approximation (GPT-2).  out = gelu(inp);  dinp = dout * gelu'(inp).
  void (*gelu_forward)(Tensor out, Tensor inp, Stream s);
  void (*gelu_backward)(Tensor dinp, Tensor dout, Tensor inp, Stream s);

  // out = a + b, elementwise (the residual stream).
  void (*residual_forward)(Tensor out, Tensor a, Tensor b, Stream s);

  // ---- Llama ----------------------------------------------------------------------------------
  // RMSNorm: out (N,C) = x * rstd * weight, rstd (N) fp32 = 1 / sqrt(mean(x^2) + eps), saved.
  void (*rmsnorm_forward)(Tensor out, Tensor rstd, Tensor x, Tensor weight, float eps, Stream s);
  // The residual add fused in front of RMSNorm, one pass over the stream instead of two:
  // sum (N,C) = a + b, then out = rmsnorm(sum) as above, of sum as stored (rounded to its dtype, so
  // forward and rmsnorm_backward see the same x). sum may alias a or b exactly.
  void (*residual_rmsnorm_forward)(Tensor sum, Tensor out, Tensor rstd, Tensor a, Tensor b, Tensor weight, float eps,
                                   Stream s);
  // dx (N,C) +=, dweight (C) +=  (x: RMSNorm's input, the `sum` of the fused form). With
  // xhat = x * rstd and g = dout * weight:  dx = rstd * (g - xhat * mean(g * xhat)).
  void (*rmsnorm_backward)(Tensor dx, Tensor dweight, Tensor dout, Tensor x, Tensor weight, Tensor rstd, Stream s);

  // Rotary position embedding, in place on the q and k heads of qkv (B,T,(NH+2*NKV)*hs) (layout of
  // attention_forward; v is untouched). Hugging Face's "rotate half" pairing: in each head, channel
  // i < hs/2 pairs with i + hs/2 and the pair is rotated by angle = (pos0 + t) * theta^(-2i/hs):
  //   (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin).     hs must be even.
  void (*rope_forward)(Tensor qkv, int n_head, int n_kv_head, int pos0, float theta, Stream s);
  // The adjoint, in place on dq and dk of dqkv (same layout): each pair rotated by -angle.
  void (*rope_backward)(Tensor dqkv, int n_head, int n_kv_head, int pos0, float theta, Stream s);

  // SwiGLU (Llama's MLP activation). inp (N,2F) holds [gate | up] per row (the fused gate/up
  // projection's output); out (N,F) = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
  void (*swiglu_forward)(Tensor out, Tensor inp, Stream s);
  // dinp (N,2F) overwritten: [dout * up * silu'(gate) | dout * silu(gate)]; it may alias inp exactly.
  void (*swiglu_backward)(Tensor dinp, Tensor dout, Tensor inp, Stream s);

  // Fused softmax + cross-entropy over rows of logits (N,V) against targets (N) int32.
  // Columns >= vocab_real are padding: they get zero probability and zero gradient.
  // losses (N) fp32 = -log p[target]; a target < 0 is ignored (loss 0, gradient 0).
  // dlogits (N,V) optional = (softmax - onehot) * dloss; it may alias logits (in place).
  void (*softmax_xent)(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets,
                       int vocab_real, float dloss, Stream s);

  // Vocab-parallel cross-entropy, in three passes around two tp all-reduces (parallel/tp_xent):
  // logits (N,Vs) is this rank's shard of global columns [vocab_start, vocab_start+Vs); columns with
  // a global index >= vocab_real are padding. Statistics are fp32 (N), fp64 in fp64 runs.
  //   max:    row_max = max over this shard's real columns (-inf if it has none)
  //   sumexp: row_sumexp = sum over real columns of exp(x - row_max) (row_max: the global max);
  //           target_logit = x[target] - row_max if the target is in this shard, else 0
  //   finish: with the globally summed row_sumexp and target_logit: losses = log(row_sumexp) -
  //           target_logit; dlogits optional = (exp(x - row_max) / row_sumexp - onehot) * dloss.
  // Targets < 0 are ignored (loss 0, gradient 0), as in softmax_xent. dlogits may alias logits.
  void (*xent_shard_max)(Tensor row_max, Tensor logits, int vocab_start, int vocab_real, Stream s);
  void (*xent_shard_sumexp)(Tensor row_sumexp, Tensor target_logit, Tensor logits, Tensor targets,
                            Tensor row_max, int vocab_start, int vocab_real, Stream s);
  void (*xent_shard_finish)(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, Tensor row_max,
                            Tensor row_sumexp, Tensor target_logit, int vocab_start, int vocab_real,
                            float dloss, Stream s);

  // One AdamW step over a flat tensor. master, grad, m, v fp32 (N). compute optional: the
  // compute-precision copy (N), refreshed from master after the update.
  void (*adamw_update)(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v,
                       AdamWArgs args, Stream s);

  // out (1) fp32 += sum of x^2 (x any float dtype): the pieces of a global gradient norm.
  void (*sum_squares)(Tensor out, Tensor x, Stream s);

  // The multi-tensor forms the optimizer runs: one pass over a flat range made of parameter pieces
  // that differ in one flag, instead of one call per piece (on the GPU one launch for AdamW, and the
  // norm's two: the partial sums and their deterministic finish).
  // `segments` is a segment table (kernels/segments.h: (S,4) uint32, built and validated once by
  // make_segment_table, kept where the op runs): piece s covers elements [start_s, start_s + length_s)
  // of the range with flag_s; pieces ascend and do not overlap; elements in no piece (alignment
  // gaps) are left alone. Per element the arithmetic is adamw_update's / sum_squares' exactly.
  // adamw_update_multi: as adamw_update over master, compute, grad, m, v (N each), with
  // args.weight_decay applied where flag_s is 1 and none where it is 0.
  void (*adamw_update_multi)(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, Tensor segments,
                             AdamWArgs args, Stream s);
  // out (K) fp32, K <= 2: out[flag_s] += sum of x^2 over piece s (flag < K). The CPU adds each
  // piece's fp64 sum into out rounding once per piece (as sum_squares per piece); the GPU rounds
  // once per slot, so the two agree to (pieces in the slot + 1) fp32 roundings.
  void (*sum_squares_multi)(Tensor out, Tensor x, Tensor segments, Stream s);

  // acc (1) fp64 += (sum of losses) / count / divisor, the sum in fp64; count 0 adds 0. losses (N)
  // fp32 (or fp64 on the CPU). The training step's loss, kept on the device across micro-steps
  // (count: the valid targets, divisor: the micro-steps), so the host reads it once per step or
  // less. The CPU sums in index order, as the host loop it replaces did (bit-identical losses); the
  // GPU in one block's tree order.
  void (*loss_mean_accumulate)(Tensor acc, Tensor losses, double count, double divisor, Stream s);

  // dst = src converted to dst.dtype (same numel; float dtypes only). Rounds to nearest even.
  void (*cast)(Tensor dst, Tensor src, Stream s);
  // x = 0.
  void (*zero)(Tensor x, Stream s);
};

// The table for a device. CPU always exists; CUDA fails with a clear message if not built.
const Ops& ops_for(Device d);
// True when the CUDA backend was built, a GPU is visible and every op of its table is filled in.
bool cuda_backend_ready();

}  // namespace kernels
