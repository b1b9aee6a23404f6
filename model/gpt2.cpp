// model/gpt2.cpp
// GPT-2 forward and backward, written as the data flow: one call per op, shapes beside each buffer.
// Tensor parallelism enters only through the named adjoint pairs (copy_to_tp / reduce_from_tp)
// and the vocab-parallel embedding and cross-entropy; with tp == 1 they are identities.
#include "model/gpt2.h"

#include <string>

#include "parallel/tp_mappings.h"

namespace model {

using kernels::Stream;
using parallel::copy_to_tp_backward;
using parallel::copy_to_tp_forward;
using parallel::reduce_from_tp_backward;
using parallel::reduce_from_tp_forward;

// Every activation the backward pass reads, per layer, plus one set of scratch gradients that the
// layers reuse in turn (backward walks the layers one at a time). Cl = C/tp, Fl = F/tp. The batch,
// the logits and the losses are the LossHead's.
struct Gpt2Model::Acts {
  TensorPool pool;
  Tensor encoded;                 // (B,T,C) embedding output = residual stream into layer 0
  struct Layer {
    Tensor ln1, ln1_mean, ln1_rstd;   // (B,T,C), (B*T), (B*T)
    Tensor qkv;                       // (B,T,3Cl) this rank's heads of q|k|v
    Tensor atty, att_lse;             // (B,T,Cl), (B,NH/tp,T)
    Tensor attproj, residual2;        // (B,T,C): attention output (all-reduced), stream after attention
    Tensor ln2, ln2_mean, ln2_rstd;   // (B,T,C), (B*T), (B*T)
    Tensor fch, fch_gelu;             // (B,T,Fl)
    Tensor fcproj, residual3;         // (B,T,C): MLP output (all-reduced), stream after the block
  };
  std::vector<Layer> layers;
  Tensor lnf, lnf_mean, lnf_rstd;     // (B,T,C), (B*T), (B*T)
  // scratch gradients, compute dtype
  Tensor dresidual;                   // (B,T,C) gradient of the residual stream
  Tensor dC, datt, dqkv, dF1, dF2;    // (B,T,C), (B,T,Cl), (B,T,3Cl), (B,T,Fl) x2

  Tensor make(Device d, DType dt, Shape s) { return pool.make(d, dt, s); }
};

Gpt2Model::Gpt2Model(const configs::ModelConfig& cfg, int vocab_real, int micro_batch, const kernels::Ops& ops,
                     Device device, ModelPrecision precision, parallel::Comm& tp, int zero_dp)
    : cfg_(cfg), B_(micro_batch), ops_(ops), device_(device), prec_(precision), tp_(tp), tp_size_(tp.size()),
      tp_rank_(tp.rank()) {
  KILN_CHECK(cfg.n_head % tp_size_ == 0 && cfg.d_ff % tp_size_ == 0 && cfg.vocab_size % tp_size_ == 0,
             "model dimensions not divisible by tp (parallel::make_layout should have refused this layout)");
  params_ = std::make_unique<ParamArena>(gpt2_param_specs(cfg, vocab_real), device, prec_.master, prec_.compute,
                                         tp_size_, tp_rank_, zero_dp > 0 ? zero_dp : 1, /*moments=*/zero_dp == 0);
  w_ = gpt2_weights(*params_, cfg.n_layer, ArenaView::kCompute);
  g_ = gpt2_weights(*params_, cfg.n_layer, ArenaView::kGrad);
  buckets_ = grad_buckets_by_layer(*params_, cfg.n_layer);
  const DType stat = prec_.compute == DType::F64 ? DType::F64 : DType::F32;
  head_ = std::make_unique<LossHead>(cfg, vocab_real, micro_batch, ops, device, prec_.compute, stat, tp);
  alloc_activations();
}

Gpt2Model::~Gpt2Model() = default;

void Gpt2Model::alloc_activations() {
  const int64_t B = B_, T = cfg_.seq_len, C = cfg_.d_model, tp = tp_size_;
  const int64_t Cl = C / tp, Fl = cfg_.d_ff / tp, NHl = cfg_.n_head / tp;
  const DType act = prec_.compute;
  const DType stat = prec_.compute == DType::F64 ? DType::F64 : DType::F32;
  acts_ = std::make_unique<Acts>();
  Acts& a = *acts_;
  a.encoded = a.make(device_, act, {B, T, C});
  for (int l = 0; l < cfg_.n_layer; ++l) {
    Acts::Layer y;
    y.ln1 = a.make(device_, act, {B, T, C});
    y.ln1_mean = a.make(device_, stat, {B * T});
    y.ln1_rstd = a.make(device_, stat, {B * T});
    y.qkv = a.make(device_, act, {B, T, 3 * Cl});
    y.atty = a.make(device_, act, {B, T, Cl});
    y.att_lse = a.make(device_, stat, {B, NHl, T});
    y.attproj = a.make(device_, act, {B, T, C});
    y.residual2 = a.make(device_, act, {B, T, C});
    y.ln2 = a.make(device_, act, {B, T, C});
    y.ln2_mean = a.make(device_, stat, {B * T});
    y.ln2_rstd = a.make(device_, stat, {B * T});
    y.fch = a.make(device_, act, {B, T, Fl});
    y.fch_gelu = a.make(device_, act, {B, T, Fl});
    y.fcproj = a.make(device_, act, {B, T, C});
    y.residual3 = a.make(device_, act, {B, T, C});
    a.layers.push_back(y);
  }
  a.lnf = a.make(device_, act, {B, T, C});
  a.lnf_mean = a.make(device_, stat, {B * T});
  a.lnf_rstd = a.make(device_, stat, {B * T});
  a.dresidual = a.make(device_, act, {B, T, C});
  a.dC = a.make(device_, act, {B, T, C});
  a.datt = a.make(device_, act, {B, T, Cl});
  a.dqkv = a.make(device_, act, {B, T, 3 * Cl});
  a.dF1 = a.make(device_, act, {B, T, Fl});
  a.dF2 = a.make(device_, act, {B, T, Fl});
}

void Gpt2Model::forward_layers(const std::vector<int32_t>& windows, int rows) {
  const int64_t B = B_, T = cfg_.seq_len, C = cfg_.d_model;
  head_->set_batch(windows, rows < 0 ? B_ : rows);
  Acts& a = *acts_;
  const Stream s{};
  const bool first = tp_rank_ == 0;  // row-parallel biases are added once, by tp rank 0
  const auto rows2d = [&](Tensor t) { return t.reshaped({B * T, t.numel() / (B * T)}); };
  const auto bias_once = [&](const Tensor& bias) { return first ? bias : Tensor{}; };
  parallel::vocab_parallel_embedding_forward(ops_, tp_, a.encoded, head_->tokens(), w_.wte, w_.wpe, head_->vocab(), s);
  // Each residual add runs fused with the LayerNorm that reads its sum (ln_2 after attention, the
  // next layer's ln_1 or ln_f after the MLP): only layer 0's ln_1 reads the embedding on its own.
  {
    Acts::Layer& y0 = a.layers[0];
    ops_.layernorm_forward(rows2d(y0.ln1), y0.ln1_mean, y0.ln1_rstd, rows2d(a.encoded), w_.h[0].ln_1_weight,
                           w_.h[0].ln_1_bias, s);
  }
  Tensor residual = a.encoded;
  for (int l = 0; l < cfg_.n_layer; ++l) {
    Acts::Layer& y = a.layers[size_t(l)];
    const Gpt2LayerWeights& w = w_.h[size_t(l)];
    copy_to_tp_forward(y.ln1, tp_, s);
    ops_.matmul_forward(rows2d(y.qkv), rows2d(y.ln1), w.c_attn_weight, w.c_attn_bias, s);
    const int heads = cfg_.n_head / tp_size_;  // multi-head: as many key/value heads as query heads
    ops_.attention_forward(y.atty, y.att_lse, y.qkv, heads, heads, s);
    ops_.matmul_forward(rows2d(y.attproj), rows2d(y.atty), w.attn_proj_weight, bias_once(w.attn_proj_bias), s);
    reduce_from_tp_forward(y.attproj, tp_, s);
    ops_.residual_layernorm_forward(rows2d(y.residual2), rows2d(y.ln2), y.ln2_mean, y.ln2_rstd, rows2d(residual),
                                    rows2d(y.attproj), w.ln_2_weight, w.ln_2_bias, s);
    copy_to_tp_forward(y.ln2, tp_, s);
    ops_.matmul_forward(rows2d(y.fch), rows2d(y.ln2), w.c_fc_weight, w.c_fc_bias, s);
    ops_.gelu_forward(y.fch_gelu, y.fch, s);
    ops_.matmul_forward(rows2d(y.fcproj), rows2d(y.fch_gelu), w.mlp_proj_weight, bias_once(w.mlp_proj_bias), s);
    reduce_from_tp_forward(y.fcproj, tp_, s);
    if (l + 1 < cfg_.n_layer) {
      Acts::Layer& next = a.layers[size_t(l + 1)];
      const Gpt2LayerWeights& wn = w_.h[size_t(l + 1)];
      ops_.residual_layernorm_forward(rows2d(y.residual3), rows2d(next.ln1), next.ln1_mean, next.ln1_rstd,
                                      rows2d(y.residual2), rows2d(y.fcproj), wn.ln_1_weight, wn.ln_1_bias, s);
    } else {
      ops_.residual_layernorm_forward(rows2d(y.residual3), rows2d(a.lnf), a.lnf_mean, a.lnf_rstd, rows2d(y.residual2),
                                      rows2d(y.fcproj), w_.ln_f_weight, w_.ln_f_bias, s);
    }
    residual = y.residual3;
  }
  copy_to_tp_forward(a.lnf, tp_, s);
  ops_.matmul_forward(head_->logits(), a.lnf.reshaped({B * T, C}), w_.head(), Tensor{}, s);
  head_->forward();
}

void Gpt2Model::backward(float scale, const std::function<void(int)>& on_bucket_ready) {
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
  const Tensor last = cfg_.n_layer ? a.layers.back().residual3 : a.encoded;
  ops_.zero(a.dresidual, s);  // layernorm_backward accumulates into dx
  ops_.layernorm_backward(rows2d(a.dresidual), g_.ln_f_weight, g_.ln_f_bias, rows2d(a.dC), rows2d(last),
                          w_.ln_f_weight, a.lnf_mean, a.lnf_rstd, s);
  ready(0);  // ln_f (and an untied lm_head) are final

  // dresidual holds d loss / d (stream after layer l). Residual adds pass it through unchanged,
  // so each branch's contribution is accumulated into it by its layernorm_backward. Row-parallel
  // biases get their gradient on every rank (dresidual is replicated), keeping them identical.
  for (int l = cfg_.n_layer - 1; l >= 0; --l) {
    Acts::Layer& y = a.layers[size_t(l)];
    const Tensor input = l == 0 ? a.encoded : a.layers[size_t(l - 1)].residual3;
    const Gpt2LayerWeights &w = w_.h[size_t(l)], &gw = g_.h[size_t(l)];
    // MLP branch: residual3 = residual2 + c_proj(gelu(c_fc(ln_2(residual2))))
    reduce_from_tp_backward(a.dresidual, tp_, s);
    ops_.matmul_backward(rows2d(a.dF1), gw.mlp_proj_weight, gw.mlp_proj_bias, rows2d(a.dresidual),
                         rows2d(y.fch_gelu), w.mlp_proj_weight, s);
    ops_.gelu_backward(a.dF2, a.dF1, y.fch, s);
    ops_.matmul_backward(rows2d(a.dC), gw.c_fc_weight, gw.c_fc_bias, rows2d(a.dF2), rows2d(y.ln2), w.c_fc_weight, s);
    copy_to_tp_backward(a.dC, tp_, s);
    ops_.layernorm_backward(rows2d(a.dresidual), gw.ln_2_weight, gw.ln_2_bias, rows2d(a.dC), rows2d(y.residual2),
                            w.ln_2_weight, y.ln2_mean, y.ln2_rstd, s);
    // Attention branch: residual2 = input + c_proj(attention(c_attn(ln_1(input))))
    reduce_from_tp_backward(a.dresidual, tp_, s);
    ops_.matmul_backward(rows2d(a.datt), gw.attn_proj_weight, gw.attn_proj_bias, rows2d(a.dresidual),
                         rows2d(y.atty), w.attn_proj_weight, s);
    const int heads = cfg_.n_head / tp_size_;  // multi-head: as many key/value heads as query heads
    ops_.attention_backward(a.dqkv, a.datt, y.qkv, y.atty, y.att_lse, heads, heads, s);
    ops_.matmul_backward(rows2d(a.dC), gw.c_attn_weight, gw.c_attn_bias, rows2d(a.dqkv), rows2d(y.ln1),
                         w.c_attn_weight, s);
    copy_to_tp_backward(a.dC, tp_, s);
    ops_.layernorm_backward(rows2d(a.dresidual), gw.ln_1_weight, gw.ln_1_bias, rows2d(a.dC), rows2d(input),
                            w.ln_1_weight, y.ln1_mean, y.ln1_rstd, s);
    ready(cfg_.n_layer - l);  // layer l is final
  }
  parallel::vocab_parallel_embedding_backward(ops_, g_.wte, g_.wpe, a.dresidual, head_->tokens(), head_->vocab(), s);
  ready(cfg_.n_layer + 1);
}

}  // namespace model
