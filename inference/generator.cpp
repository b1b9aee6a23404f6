// inference/generator.cpp
// make_generator (the architecture switch) and the generation loop of `kiln sample`, which sees a
// Generator only through its interface.
#include "inference/generator.h"

#include "inference/gpt2_generator.h"
#include "inference/llama_generator.h"
#include <string>

#include "kernels/check.h"
#include "kernels/finite.h"

namespace inference {

std::unique_ptr<Generator> make_generator(const configs::ModelConfig& cfg, const ParamArena& params, int vocab_real,
                                          const kernels::Ops& ops) {
  if (cfg.is_llama()) return std::make_unique<LlamaGenerator>(cfg, params, vocab_real, ops);
  KILN_CHECK(cfg.arch == "gpt2", "make_generator: unknown model.arch '" + cfg.arch + "'");
  return std::make_unique<Gpt2Generator>(cfg, params, vocab_real, ops);
}

void Generator::check_fits(int64_t n) const {
  KILN_CHECK(n > 0 && pos_ + n <= capacity_,
             "Generator::feed: " + std::to_string(n) + " tokens at position " + std::to_string(pos_) +
                 " do not fit the context of " + std::to_string(capacity_));
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
