// inference/gpt2_generator.cpp
// The forward pass of Gpt2Model::forward for n new rows of one sequence, with attention replaced by
// attention_cached_forward (which appends this step's k and v to each layer's cache first).
#include "inference/gpt2_generator.h"

#include <string>

#include "kernels/check.h"
#include "kernels/host_copy.h"
#include "model/tensor_pool.h"

namespace inference {

using kernels::Stream;

// Scratch for up to seq_len rows, reused by every layer, plus the per-layer caches.
struct Gpt2Generator::Buffers {
  model::TensorPool pool;
  Tensor tokens, tok_emb, x;              // (maxT) int32, (maxT,C), (maxT,C) residual stream
  Tensor ln, mean, rstd;                  // (maxT,C), (maxT), (maxT)
  Tensor qkv, atty, proj, x2;             // (maxT,3C), (maxT,C), (maxT,C), (maxT,C)
  Tensor fch, fch_gelu;                   // (maxT,F)
  Tensor logits, logits_f32;              // (1,V); fp32 copy read by the host (bf16/fp16 runs)
  std::vector<Tensor> k_cache, v_cache;   // per layer (maxT,C)

  Tensor make(kernels::Device d, DType dt, Shape s) { return pool.make(d, dt, s); }
};

Gpt2Generator::Gpt2Generator(const configs::ModelConfig& cfg, const ParamArena& params, int vocab_real,
                             const kernels::Ops& ops)
    : Generator(cfg.seq_len), cfg_(cfg), params_(params),
      w_(model::gpt2_weights(params, cfg.n_layer, model::ArenaView::kCompute)), vocab_real_(vocab_real), ops_(ops),
      b_(std::make_unique<Buffers>()) {
  KILN_CHECK(params.tp() == 1, "Generator: needs the whole model (a tp = 1 parameter arena)");
  const int64_t T = cfg.seq_len, C = cfg.d_model, F = cfg.d_ff;
  const kernels::Device d = params.device();
  const DType act = params.compute_dtype();
  const DType stat = act == DType::F64 ? DType::F64 : DType::F32;
  Buffers& b = *b_;
  b.tokens = b.make(d, DType::I32, {T});
  b.tok_emb = b.make(d, act, {T, C});
  b.x = b.make(d, act, {T, C});
  b.ln = b.make(d, act, {T, C});
  b.mean = b.make(d, stat, {T});
  b.rstd = b.make(d, stat, {T});
  b.qkv = b.make(d, act, {T, 3 * C});
  b.atty = b.make(d, act, {T, C});
  b.proj = b.make(d, act, {T, C});
  b.x2 = b.make(d, act, {T, C});
  b.fch = b.make(d, act, {T, F});
  b.fch_gelu = b.make(d, act, {T, F});
  b.logits = b.make(d, act, {1, cfg.vocab_size});
  // One fp32 staging row for every token's logits, not an allocation per token.
  if (act == DType::BF16 || act == DType::F16) b.logits_f32 = b.make(d, DType::F32, {1, cfg.vocab_size});
  for (int l = 0; l < cfg.n_layer; ++l) {
    b.k_cache.push_back(b.make(d, act, {T, C}));
    b.v_cache.push_back(b.make(d, act, {T, C}));
  }
}

Gpt2Generator::~Gpt2Generator() = default;

std::vector<float> Gpt2Generator::feed(const std::vector<int32_t>& tokens) {
  const int64_t n = int64_t(tokens.size()), C = cfg_.d_model;
  check_fits(n);
  Buffers& b = *b_;
  const Stream s{};
  const auto rows = [&](Tensor t) { return t.slice_rows(0, n); };
  kernels::copy_from_host(b.tokens.data, params_.device(), tokens.data(), size_t(n) * sizeof(int32_t));

  // Token embeddings, then the positions pos_ .. pos_+n-1 (rows of wpe).
  ops_.embedding_forward(rows(b.tok_emb).reshaped({1, n, C}), rows(b.tokens).reshaped({1, n}), w_.wte, Tensor{}, 0, s);
  ops_.residual_forward(rows(b.x), rows(b.tok_emb), w_.wpe.slice_rows(pos_, n), s);
  for (int l = 0; l < cfg_.n_layer; ++l) {
    const model::Gpt2LayerWeights& w = w_.h[size_t(l)];
    ops_.layernorm_forward(rows(b.ln), rows(b.mean), rows(b.rstd), rows(b.x), w.ln_1_weight, w.ln_1_bias, s);
    ops_.matmul_forward(rows(b.qkv), rows(b.ln), w.c_attn_weight, w.c_attn_bias, s);
    ops_.attention_cached_forward(rows(b.atty), rows(b.qkv), b.k_cache[size_t(l)], b.v_cache[size_t(l)], pos_,
                                  cfg_.n_head, cfg_.n_head, s);
    ops_.matmul_forward(rows(b.proj), rows(b.atty), w.attn_proj_weight, w.attn_proj_bias, s);
    ops_.residual_forward(rows(b.x2), rows(b.x), rows(b.proj), s);
    ops_.layernorm_forward(rows(b.ln), rows(b.mean), rows(b.rstd), rows(b.x2), w.ln_2_weight, w.ln_2_bias, s);
    ops_.matmul_forward(rows(b.fch), rows(b.ln), w.c_fc_weight, w.c_fc_bias, s);
    ops_.gelu_forward(rows(b.fch_gelu), rows(b.fch), s);
    ops_.matmul_forward(rows(b.proj), rows(b.fch_gelu), w.mlp_proj_weight, w.mlp_proj_bias, s);
    ops_.residual_forward(rows(b.x), rows(b.x2), rows(b.proj), s);
  }
  pos_ += int(n);
  // Only the last row predicts the next token: ln_f and the head run on it alone.
  const Tensor last = b.x.slice_rows(n - 1, 1);
  ops_.layernorm_forward(b.ln.slice_rows(0, 1), b.mean.slice_rows(0, 1), b.rstd.slice_rows(0, 1), last,
                         w_.ln_f_weight, w_.ln_f_bias, s);
  ops_.matmul_forward(b.logits, b.ln.slice_rows(0, 1), w_.head(), Tensor{}, s);
  std::vector<float> logits = kernels::copy_to_host_f32(ops_, b.logits, b.logits_f32);
  logits.resize(size_t(vocab_real_));  // padded columns never receive probability
  return logits;
}

}  // namespace inference
