// model/llama.cpp
// Llama forward and backward, written as the data flow: one call per op, shapes beside each buffer.
// Tensor parallelism enters only through the named adjoint pairs (copy_to_tp / reduce_from_tp) and
// the vocab-parallel embedding and cross-entropy; with tp == 1 they are identities.
#include "model/llama.h"

#include "kernels/check.h"
#include "model/tensor_pool.h"
#include "parallel/tp_mappings.h"

namespace model {

using kernels::Stream;
using parallel::copy_to_tp_backward;
using parallel::copy_to_tp_forward;
using parallel::reduce_from_tp_backward;
using parallel::reduce_from_tp_forward;

// Every activation the backward pass reads, per layer, plus scratch gradients the layers reuse in
// turn. Local widths: Wl = (NH+2*NKV)*hs/tp (q|k|v), Cl = NH*hs/tp (attention output), Fl = F/tp.
// The stream: x_in of layer l is the sum the previous layer's fused residual+RMSNorm wrote (layer
// 0: the embeddings), x_mid = x_in + attention, and x_out = x_mid + MLP of the last layer.
struct LlamaModel::Acts {
  TensorPool pool;
  Tensor encoded;                    // (B,T,C) embeddings = x_in of layer 0
  struct Layer {
    Tensor x_in;                     // (B,T,C) stream into the layer (layer 0: encoded)
    Tensor ln1, ln1_rstd;            // (B,T,C), (B*T)   input_layernorm
    Tensor qkv;                      // (B,T,Wl)         q|k|v, q and k rotated in place
    Tensor atty, att_lse;            // (B,T,Cl), (B,NH/tp,T)
    Tensor attproj;                  // (B,T,C)          o_proj output (all-reduced)
    Tensor x_mid;                    // (B,T,C)          x_in + attproj
    Tensor ln2, ln2_rstd;            // (B,T,C), (B*T)   post_attention_layernorm
    Tensor gate_up, act;             // (B,T,2Fl), (B,T,Fl)
    Tensor mlp_out;                  // (B,T,C)          down_proj output (all-reduced)
  };
  std::vector<Layer> layers;
  Tensor x_out, lnf, lnf_rstd;       // (B,T,C) stream after the last layer, final norm, (B*T)
  // scratch gradients, compute dtype
  Tensor dresidual;                  // (B,T,C) gradient of the residual stream
  Tensor dC, datt, dqkv, dact, dgate_up;  // (B,T,C), (B,T,Cl), (B,T,Wl), (B,T,Fl), (B,T,2Fl)
};

LlamaModel::LlamaModel(const configs::ModelConfig& cfg, int vocab_real, int micro_batch, const kernels::Ops& ops,
                       Device device, ModelPrecision precision, parallel::Comm& tp, int zero_dp)
    : cfg_(cfg), B_(micro_batch), ops_(ops), device_(device), prec_(precision), tp_(tp), tp_size_(tp.size()) {
  KILN_CHECK(cfg.is_llama(), "LlamaModel: model.arch is " + cfg.arch);
  KILN_CHECK(cfg.n_head % tp_size_ == 0 && cfg.kv_heads() % tp_size_ == 0 && cfg.d_ff % tp_size_ == 0 &&
                 cfg.vocab_size % tp_size_ == 0,
             "model dimensions not divisible by tp (parallel::make_layout should have refused this layout)");
  heads_ = cfg.n_head / tp_size_;
  kv_heads_ = cfg.kv_heads() / tp_size_;
  eps_ = float(cfg.rms_eps());
  theta_ = float(cfg.rope_base());
  params_ = std::make_unique<ParamArena>(llama_param_specs(cfg, vocab_real), device, prec_.master, prec_.compute,
                                         tp_size_, tp.rank(), zero_dp > 0 ? zero_dp : 1, /*moments=*/zero_dp == 0);
  w_ = llama_weights(*params_, cfg.n_layer, ArenaView::kCompute);
  g_ = llama_weights(*params_, cfg.n_layer, ArenaView::kGrad);
  buckets_ = grad_buckets_by_layer(*params_, cfg.n_layer);
  const DType stat = prec_.compute == DType::F64 ? DType::F64 : DType::F32;
  head_ = std::make_unique<LossHead>(cfg, vocab_real, micro_batch, ops, device, prec_.compute, stat, tp);
  alloc_activations();
}

LlamaModel::~LlamaModel() = default;

void LlamaModel::alloc_activations() {
  const int64_t B = B_, T = cfg_.seq_len, C = cfg_.d_model, hs = cfg_.head_dim();
  const int64_t Wl = (heads_ + 2 * kv_heads_) * hs, Cl = heads_ * hs, Fl = cfg_.d_ff / tp_size_;
  const DType act = prec_.compute;
  const DType stat = prec_.compute == DType::F64 ? DType::F64 : DType::F32;
  acts_ = std::make_unique<Acts>();
  Acts& a = *acts_;
  const auto make = [&](DType dt, Shape s) { return a.pool.make(device_, dt, s); };
  a.encoded = make(act, {B, T, C});
  for (int l = 0; l < cfg_.n_layer; ++l) {
    Acts::Layer y;
    y.x_in = l == 0 ? a.encoded : make(act, {B, T, C});
    y.ln1 = make(act, {B, T, C});
    y.ln1_rstd = make(stat, {B * T});
    y.qkv = make(act, {B, T, Wl});
    y.atty = make(act, {B, T, Cl});
    y.att_lse = make(stat, {B, heads_, T});
    y.attproj = make(act, {B, T, C});
    y.x_mid = make(act, {B, T, C});
    y.ln2 = make(act, {B, T, C});
    y.ln2_rstd = make(stat, {B * T});
    y.gate_up = make(act, {B, T, 2 * Fl});
    y.act = make(act, {B, T, Fl});
    y.mlp_out = make(act, {B, T, C});
    a.layers.push_back(y);
  }
  a.x_out = make(act, {B, T, C});
  a.lnf = make(act, {B, T, C});
  a.lnf_rstd = make(stat, {B * T});
  a.dresidual = make(act, {B, T, C});
  a.dC = make(act, {B, T, C});
  a.datt = make(act, {B, T, Cl});
  a.dqkv = make(act, {B, T, Wl});
  a.dact = make(act, {B, T, Fl});
  a.dgate_up = make(act, {B, T, 2 * Fl});
}

void LlamaModel::forward_layers(const std::vector<int32_t>& windows, int rows) {
  const int64_t B = B_, T = cfg_.seq_len;
  head_->set_batch(windows, rows < 0 ? B_ : rows);
  Acts& a = *acts_;
  const Stream s{};
  const auto rows2d = [&](Tensor t) { return t.reshaped({B * T, t.numel() / (B * T)}); };
  parallel::vocab_parallel_embedding_forward(ops_, tp_, a.encoded, head_->tokens(), w_.embed_tokens, Tensor{},
                                             head_->vocab(), s);  // no positions: RoPE places tokens
  ops_.rmsnorm_forward(a.layers[0].ln1, a.layers[0].ln1_rstd, a.encoded, w_.layers[0].input_layernorm, eps_, s);
  for (int l = 0; l < cfg_.n_layer; ++l) {
    Acts::Layer& y = a.layers[size_t(l)];
    const LlamaLayerWeights& w = w_.layers[size_t(l)];
    // Attention: x_mid = x_in + o_proj(attention(rope(qkv_proj(ln1))))
    copy_to_tp_forward(y.ln1, tp_, s);
    ops_.matmul_forward(rows2d(y.qkv), rows2d(y.ln1), w.qkv_proj, Tensor{}, s);
    ops_.rope_forward(y.qkv, heads_, kv_heads_, /*pos0=*/0, theta_, s);
    ops_.attention_forward(y.atty, y.att_lse, y.qkv, heads_, kv_heads_, s);
    ops_.matmul_forward(rows2d(y.attproj), rows2d(y.atty), w.o_proj, Tensor{}, s);
    reduce_from_tp_forward(y.attproj, tp_, s);
    ops_.residual_rmsnorm_forward(y.x_mid, y.ln2, y.ln2_rstd, y.x_in, y.attproj, w.post_attention_layernorm, eps_, s);
    // MLP: stream out = x_mid + down_proj(swiglu(gate_up_proj(ln2)))
    copy_to_tp_forward(y.ln2, tp_, s);
    ops_.matmul_forward(rows2d(y.gate_up), rows2d(y.ln2), w.gate_up_proj, Tensor{}, s);
    ops_.swiglu_forward(y.act, y.gate_up, s);
    ops_.matmul_forward(rows2d(y.mlp_out), rows2d(y.act), w.down_proj, Tensor{}, s);
    reduce_from_tp_forward(y.mlp_out, tp_, s);
    // The residual add and the next RMSNorm in one pass: the next layer's input norm, or the final one.
    if (l + 1 < cfg_.n_layer) {
      Acts::Layer& next = a.layers[size_t(l + 1)];
      ops_.residual_rmsnorm_forward(next.x_in, next.ln1, next.ln1_rstd, y.x_mid, y.mlp_out,
                                    w_.layers[size_t(l + 1)].input_layernorm, eps_, s);
    } else {
      ops_.residual_rmsnorm_forward(a.x_out, a.lnf, a.lnf_rstd, y.x_mid, y.mlp_out, w_.norm, eps_, s);
    }
  }
  copy_to_tp_forward(a.lnf, tp_, s);
  ops_.matmul_forward(head_->logits(), rows2d(a.lnf), w_.head(), Tensor{}, s);
  head_->forward();
}

void LlamaModel::backward(float scale, const std::function<void(int)>& on_bucket_ready) {
  const auto ready = [&](int k) {
    if (on_bucket_ready) on_bucket_ready(k);
  };
  const int64_t B = B_, T = cfg_.seq_len;
  Acts& a = *acts_;
  const Stream s{};
  const auto rows2d = [&](Tensor t) { return t.reshaped({B * T, t.numel() / (B * T)}); };
  head_->backward(scale);  // dlogits in place of the logits

  ops_.matmul_backward(rows2d(a.dC), g_.head(), Tensor{}, head_->logits(), rows2d(a.lnf), w_.head(), s);
  copy_to_tp_backward(a.dC, tp_, s);  // each rank's vocab columns gave a partial dlnf
  ops_.zero(a.dresidual, s);         // rmsnorm_backward accumulates into dx
  ops_.rmsnorm_backward(a.dresidual, g_.norm, a.dC, a.x_out, w_.norm, a.lnf_rstd, s);
  ready(0);  // the final norm (and an untied lm_head) are final

  // dresidual holds d loss / d (stream after layer l). Residual adds pass it through unchanged, so
  // each branch's contribution is accumulated into it by its rmsnorm_backward.
  for (int l = cfg_.n_layer - 1; l >= 0; --l) {
    Acts::Layer& y = a.layers[size_t(l)];
    const LlamaLayerWeights &w = w_.layers[size_t(l)], &gw = g_.layers[size_t(l)];
    // MLP branch
    reduce_from_tp_backward(a.dresidual, tp_, s);
    ops_.matmul_backward(rows2d(a.dact), gw.down_proj, Tensor{}, rows2d(a.dresidual), rows2d(y.act), w.down_proj, s);
    ops_.swiglu_backward(a.dgate_up, a.dact, y.gate_up, s);
    ops_.matmul_backward(rows2d(a.dC), gw.gate_up_proj, Tensor{}, rows2d(a.dgate_up), rows2d(y.ln2), w.gate_up_proj, s);
    copy_to_tp_backward(a.dC, tp_, s);
    ops_.rmsnorm_backward(a.dresidual, gw.post_attention_layernorm, a.dC, y.x_mid, w.post_attention_layernorm,
                          y.ln2_rstd, s);
    // Attention branch: attention's gradient is for the rotated q and k; rope_backward turns it back.
    reduce_from_tp_backward(a.dresidual, tp_, s);
    ops_.matmul_backward(rows2d(a.datt), gw.o_proj, Tensor{}, rows2d(a.dresidual), rows2d(y.atty), w.o_proj, s);
    ops_.attention_backward(a.dqkv, a.datt, y.qkv, y.atty, y.att_lse, heads_, kv_heads_, s);
    ops_.rope_backward(a.dqkv, heads_, kv_heads_, /*pos0=*/0, theta_, s);
    ops_.matmul_backward(rows2d(a.dC), gw.qkv_proj, Tensor{}, rows2d(a.dqkv), rows2d(y.ln1), w.qkv_proj, s);
    copy_to_tp_backward(a.dC, tp_, s);
    ops_.rmsnorm_backward(a.dresidual, gw.input_layernorm, a.dC, y.x_in, w.input_layernorm, y.ln1_rstd, s);
    ready(cfg_.n_layer - l);  // layer l is final
  }
  parallel::vocab_parallel_embedding_backward(ops_, g_.embed_tokens, Tensor{}, a.dresidual, head_->tokens(),
                                              head_->vocab(), s);
  ready(cfg_.n_layer + 1);
}

}  // namespace model
