// inference/llama_generator.cpp
// The forward pass of LlamaModel::forward for n new rows of one sequence: rope at positions pos_..,
// attention replaced by attention_cached_forward (which appends this step's k and v to each layer's
// cache first). The residual stream x is updated in place by the fused residual+RMSNorm op.
#include "inference/llama_generator.h"

#include "kernels/check.h"
#include "kernels/host_copy.h"
#include "model/tensor_pool.h"

namespace inference {

using kernels::Stream;

// Scratch for up to seq_len rows, reused by every layer, plus the per-layer caches.
struct LlamaGenerator::Buffers {
  model::TensorPool pool;
  Tensor tokens, x;                       // (maxT) int32, (maxT,C) residual stream
  Tensor ln, rstd;                        // (maxT,C), (maxT)
  Tensor qkv, atty, proj;                 // (maxT,W), (maxT,NH*hs), (maxT,C)
  Tensor gate_up, act;                    // (maxT,2F), (maxT,F)
  Tensor logits, logits_f32;              // (1,V); fp32 copy read by the host (bf16/fp16 runs)
  std::vector<Tensor> k_cache, v_cache;   // per layer (maxT, NKV*hs)
};

LlamaGenerator::LlamaGenerator(const configs::ModelConfig& cfg, const ParamArena& params, int vocab_real,
                               const kernels::Ops& ops)
    : Generator(cfg.seq_len), cfg_(cfg), params_(params),
      w_(model::llama_weights(params, cfg.n_layer, model::ArenaView::kCompute)), vocab_real_(vocab_real), ops_(ops),
      eps_(float(cfg.rms_eps())), theta_(float(cfg.rope_base())), b_(std::make_unique<Buffers>()) {
  KILN_CHECK(params.tp() == 1, "Generator: needs the whole model (a tp = 1 parameter arena)");
  const int64_t T = cfg.seq_len, C = cfg.d_model, F = cfg.d_ff, hs = cfg.head_dim();
  const int64_t NH = cfg.n_head, NKV = cfg.kv_heads(), W = (NH + 2 * NKV) * hs;
  const kernels::Device d = params.device();
  const DType act = params.compute_dtype();
  const DType stat = act == DType::F64 ? DType::F64 : DType::F32;
  Buffers& b = *b_;
  const auto make = [&](DType dt, Shape s) { return b.pool.make(d, dt, s); };
  b.tokens = make(DType::I32, {T});
  b.x = make(act, {T, C});
  b.ln = make(act, {T, C});
  b.rstd = make(stat, {T});
  b.qkv = make(act, {T, W});
  b.atty = make(act, {T, NH * hs});
  b.proj = make(act, {T, C});
  b.gate_up = make(act, {T, 2 * F});
  b.act = make(act, {T, F});
  b.logits = make(act, {1, cfg.vocab_size});
  // One fp32 staging row for every token's logits, not an allocation per token.
  if (act == DType::BF16 || act == DType::F16) b.logits_f32 = make(DType::F32, {1, cfg.vocab_size});
  for (int l = 0; l < cfg.n_layer; ++l) {
    b.k_cache.push_back(make(act, {T, NKV * hs}));
    b.v_cache.push_back(make(act, {T, NKV * hs}));
  }
}

LlamaGenerator::~LlamaGenerator() = default;

std::vector<float> LlamaGenerator::feed(const std::vector<int32_t>& tokens) {
  const int64_t n = int64_t(tokens.size()), C = cfg_.d_model;
  check_fits(n);
  const int NH = cfg_.n_head, NKV = cfg_.kv_heads();
  Buffers& b = *b_;
  const Stream s{};
  const auto rows = [&](Tensor t) { return t.slice_rows(0, n); };
  kernels::copy_from_host(b.tokens.data, params_.device(), tokens.data(),
                       size_t(n) * sizeof(int32_t));

  ops_.embedding_forward(rows(b.x).reshaped({1, n, C}), rows(b.tokens).reshaped({1, n}), w_.embed_tokens, Tensor{}, 0,
                         s);
  ops_.rmsnorm_forward(rows(b.ln), rows(b.rstd), rows(b.x), w_.layers[0].input_layernorm, eps_, s);
  for (int l = 0; l < cfg_.n_layer; ++l) {
    const model::LlamaLayerWeights& w = w_.layers[size_t(l)];
    const Tensor qkv = rows(b.qkv);
    ops_.matmul_forward(qkv, rows(b.ln), w.qkv_proj, Tensor{}, s);
    ops_.rope_forward(qkv.reshaped({1, n, qkv.dim(1)}), NH, NKV, pos_, theta_, s);
    ops_.attention_cached_forward(rows(b.atty), qkv, b.k_cache[size_t(l)], b.v_cache[size_t(l)], pos_, NH, NKV, s);
    ops_.matmul_forward(rows(b.proj), rows(b.atty), w.o_proj, Tensor{}, s);
    ops_.residual_rmsnorm_forward(rows(b.x), rows(b.ln), rows(b.rstd), rows(b.x), rows(b.proj),
                                  w.post_attention_layernorm, eps_, s);
    ops_.matmul_forward(rows(b.gate_up), rows(b.ln), w.gate_up_proj, Tensor{}, s);
    ops_.swiglu_forward(rows(b.act), rows(b.gate_up), s);
    ops_.matmul_forward(rows(b.proj), rows(b.act), w.down_proj, Tensor{}, s);
    // The residual add and the next norm: the next layer's input norm, or the final norm.
    const Tensor& norm = l + 1 < cfg_.n_layer ? w_.layers[size_t(l + 1)].input_layernorm : w_.norm;
    ops_.residual_rmsnorm_forward(rows(b.x), rows(b.ln), rows(b.rstd), rows(b.x), rows(b.proj), norm, eps_, s);
  }
  pos_ += int(n);
  // Only the last row predicts the next token: the head runs on it alone.
  ops_.matmul_forward(b.logits, b.ln.slice_rows(n - 1, 1), w_.head(), Tensor{}, s);
  std::vector<float> logits = kernels::copy_to_host_f32(ops_, b.logits, b.logits_f32);
  logits.resize(size_t(vocab_real_));  // padded columns never receive probability
  return logits;
}

}  // namespace inference
