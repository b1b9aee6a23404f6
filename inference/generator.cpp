// inference/generator.cpp
// The forward pass of Gpt2Model::forward for n new rows of one sequence, with attention replaced by
// attention_cached_forward (which appends this step's k and v to each layer's cache first).
#include "inference/generator.h"

#include <string>

#include "kernels/check.h"
#include "kernels/finite.h"
#include "kernels/host_copy.h"

namespace inference {

using kernels::Buffer;
using kernels::Stream;

// Scratch for up to seq_len rows, reused by every layer, plus the per-layer caches.
struct Generator::Buffers {
  std::vector<Buffer> owners;
  Tensor tokens, tok_emb, x;              // (maxT) int32, (maxT,C), (maxT,C) residual stream
  Tensor ln, mean, rstd;                  // (maxT,C), (maxT), (maxT)
  Tensor qkv, atty, proj, x2;             // (maxT,3C), (maxT,C), (maxT,C), (maxT,C)
  Tensor fch, fch_gelu;                   // (maxT,F)
  Tensor logits, logits_f32;              // (1,V); fp32 copy read by the host (bf16/fp16 runs)
  std::vector<Tensor> k_cache, v_cache;   // per layer (maxT,C)

  Tensor make(kernels::Device d, DType dt, Shape s) {
    owners.emplace_back(d, size_t(s.numel()) * kernels::dtype_size(dt));
    return owners.back().view(dt, s);
  }
};

Generator::Generator(const configs::ModelConfig& cfg, const ParamArena& params, int vocab_real, const kernels::Ops& ops)
    : cfg_(cfg), params_(params), w_(model::gpt2_weights(params, cfg.n_layer, model::ArenaView::kCompute)),
      vocab_real_(vocab_real), ops_(ops), b_(std::make_unique<Buffers>()) {
  KILN_CHECK(params.tp() == 1, "Generator: needs the whole model (a tp = 1 parameter arena)");
  const int64_t T = cfg.seq_len, C = cfg.d_model, F = cfg.d_ff;
  const kernels::Device d = params.device();
  const DType act = params.compute_dtype();
  const DType stat = act == DType::F64 ? DType::F64 : DType::F32;
  Buffers& b = *b_;
  b.owners.reserve(size_t(17 + 2 * cfg.n_layer));  // views point into owners: no reallocation
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

Generator::~Generator() = default;

std::vector<float> Generator::feed(const std::vector<int32_t>& tokens) {
  const int64_t n = int64_t(tokens.size()), C = cfg_.d_model;
  KILN_CHECK(n > 0 && pos_ + n <= cfg_.seq_len,
             "Generator::feed: " + std::to_string(n) + " tokens at position " + std::to_string(pos_) +
                 " do not fit the context of " + std::to_string(cfg_.seq_len));
  Buffers& b = *b_;
  const Stream s{};
  const auto rows = [&](Tensor t) { return t.slice_rows(0, n); };
  kernels::device_copy(b.tokens.data, params_.device(), tokens.data(), kernels::Device::kCpu, size_t(n) * sizeof(int32_t));

  // Token embeddings, then the positions pos_ .. pos_+n-1 (rows of wpe).
  ops_.embedding_forward(rows(b.tok_emb).reshaped({1, n, C}), rows(b.tokens).reshaped({1, n}), w_.wte, Tensor{}, 0, s);
  ops_.residual_forward(rows(b.x), rows(b.tok_emb), w_.wpe.slice_rows(pos_, n), s);
  for (int l = 0; l < cfg_.n_layer; ++l) {
    const model::Gpt2LayerWeights& w = w_.h[size_t(l)];
    ops_.layernorm_forward(rows(b.ln), rows(b.mean), rows(b.rstd), rows(b.x), w.ln_1_weight, w.ln_1_bias, s);
    ops_.matmul_forward(rows(b.qkv), rows(b.ln), w.c_attn_weight, w.c_attn_bias, s);
    ops_.attention_cached_forward(rows(b.atty), rows(b.qkv), b.k_cache[size_t(l)], b.v_cache[size_t(l)], pos_,
                                  cfg_.n_head, s);
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

namespace {
// Sampling from NaN picks an arbitrary token forever: a model whose weights overflow (e.g. trained
// with far too large a learning rate) is refused instead.
void require_finite_logits(const std::vector<float>& logits, int made) {
  const kernels::FiniteScan f = kernels::scan_finite(logits.data(), kernels::DType::F32, int64_t(logits.size()));
  KILN_REQUIRE_INPUT(f.finite(), "the model's logits for new token " + std::to_string(made + 1) + " are not finite (" +
                                     std::to_string(f.bad) + " of " + std::to_string(logits.size()) +
                                     "): its weights overflow the forward pass");
}

std::vector<int32_t> last(const std::vector<int32_t>& ids, size_t n) {
  return std::vector<int32_t>(ids.end() - std::ptrdiff_t(std::min(n, ids.size())), ids.end());
}
}  // namespace

int generate(Generator& gen, std::vector<int32_t> context, const SamplingOptions& sampling, int max_new, int eot,
             const std::function<void(int32_t)>& on_token, const std::function<void()>& on_rebuild) {
  KILN_CHECK(!context.empty(), "generate: the context must hold at least one token");
  if (max_new <= 0) return 0;
  gen.reset();
  std::vector<float> logits = gen.feed(last(context, size_t(gen.capacity())));
  bool rebuilt = false;
  int made = 0;
  while (made < max_new) {
    require_finite_logits(logits, made);
    const int32_t next = int32_t(choose_token(logits, sampling, uint64_t(made)));
    if (next == eot) break;
    ++made;
    context.push_back(next);
    on_token(next);
    if (made == max_new) break;  // no forward pass for a token nobody will read
    if (gen.position() < gen.capacity()) {
      logits = gen.feed({next});
    } else {
      if (!rebuilt && on_rebuild) on_rebuild();
      rebuilt = true;
      gen.reset();
      logits = gen.feed(last(context, size_t(tokens_kept_on_rebuild(gen.capacity()))));
    }
  }
  return made;
}

}  // namespace inference
