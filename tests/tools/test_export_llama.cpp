// tests/tools/test_export_llama.cpp
// `kiln export --format hf` of a Llama checkpoint proven by an independent implementation:
// scripts/hf_llama_reference.py (numpy, float64, written from Hugging Face's LlamaForCausalLM:
// rotate-half RoPE with transformers' float32 angles, repeat_kv, RMSNorm, SiLU gate) computes the loss
// of the exported folder on the validation windows `kiln eval` uses; it must equal kiln's within
// 1e-4 relative.
//  - trained byte models exported by the real binary, against the trainer's final eval: grouped-query
//    attention (4 query heads on 2 key/value heads) untied, and multi-head (4 on 4) tied;
//  - "loud" random weights (sharp attention, every norm gain live, padding rows filled), GQA and
//    MHA, tied and untied, against the trainer's Evaluator, on text the model itself sampled. On its
//    own samples a model's expected loss is its entropy, and a model that computes anything else
//    has a higher loss by the KL divergence, so the loss is a systematic witness (on foreign text a
//    random model's loss barely moves: any mix-up gives other, equally random logits). There the
//    weights carry signal: the same folder with two q_proj rows swapped, or with q_proj/k_proj rows
//    in the interleaved RoPE order (the permutation a checkpoint in Meta's layout needs on
//    conversion; kiln's rotate-half layout is Hugging Face's, so its export has none), moves the
//    reference's loss by more than 1%.
// Skips, saying why, without numpy + h5py in /usr/bin/python3.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>

#include "checkpoint/safetensors.h"
#include "data/shard.h"
#include "formats/hf_export.h"
#include "inference/generator.h"
#include "model/model.h"
#include "tests/common/one_rank.h"
#include "tests/tools/cli_test_util.h"
#include "tests/tools/export_test_util.h"
#include "tests/trainer/trainer_test_util.h"
#include "trainer/evaluator.h"
#include "trainer/trainer.h"

namespace {

// The reference's loss on the folder `out` over the validation windows of dir's shards.
double reference_loss(const std::string& out, const std::string& val, int64_t* tokens = nullptr) {
  const Result r = shell(std::string(kPython) + " " + KILN_HF_LLAMA_REFERENCE + " " + out + " --data '" + val + "'");
  EXPECT_EQ(r.code, 0) << r.out;
  if (r.code != 0) return NAN;
  const nlohmann::json j = last_json_line(r.out);
  if (tokens) *tokens = j["tokens"].get<int64_t>();
  return j["loss"].get<double>();
}

// A 2-layer byte-level Llama on dir/shards: 4 query heads of 8 channels on n_kv_head key/value
// heads, SwiGLU 48, vocab padded to 320 (256 real).
configs::Config llama_config(const std::string& dir, const std::string& name, int n_kv_head, bool tied) {
  configs::Config c = trainer_test::cpu_run_config(dir, name, /*n_head=*/4);
  c.model.arch = "llama";
  c.model.n_kv_head = n_kv_head;
  c.model.vocab_size = 320;
  c.model.d_ff = 48;
  c.model.tie_embeddings = tied;
  c.model.rope_theta = 500.0;  // a small base: every channel pair turns noticeably within 16 positions
  return c;
}

struct TrainedCase {
  const char* name;
  int n_kv_head;
  bool tied;
};

class LlamaExport : public ::testing::TestWithParam<TrainedCase> {};

TEST_P(LlamaExport, TrainedModelComputesKilnsLoss) {
  REQUIRE_PYTHON();
  const TrainedCase k = GetParam();
  const std::string dir = kiln_test::scratch_dir("export_llama");
  prepare_corpus(dir, "byte");
  configs::Config c = llama_config(dir, k.name, k.n_kv_head, k.tied);
  c.train.micro_batch = 4;
  c.train.global_batch = 4;
  c.train.max_steps = 30;
  c.eval.every = 0;       // the final eval still runs
  c.eval.batches = 1000;  // more than there are windows: all of them
  c.checkpoint.every = 30;
  trainer::Trainer(c, kiln_test::one_rank_cpu()).run();
  const std::string run = c.run.out_dir + "/" + c.run.name, val = dir + "/shards/val_*.h5";

  for (const char* dtype : {"fp32", "bf16"}) {
    const std::string out = dir + "/hf_" + dtype;
    const Result e = shell(std::string(KILN_BIN) + " export --checkpoint " + run + " --format hf --out " + out +
                           " --dtype " + dtype);
    ASSERT_EQ(e.code, 0) << e.out;
    int64_t tokens = 0;
    const double ref = reference_loss(out, val, &tokens);
    const double kiln = last_jsonl(run + "/eval.jsonl")["val_loss"].get<double>();
    const double rel = std::abs(ref - kiln) / kiln;
    std::printf("[export llama %s %s] kiln val_loss %.10f | reference %.10f | relative difference %.3e | %lld tokens\n",
                k.name, dtype, kiln, ref, rel, (long long)tokens);
    EXPECT_EQ(tokens, int64_t(data::read_eval_windows(val, 16, -1).size()) * 16);
    EXPECT_LT(rel, std::string(dtype) == "fp32" ? 1e-4 : 1e-2) << dtype;
  }

  // The folder holds what transformers' LlamaForCausalLM reads.
  const std::string out = dir + "/hf_fp32";
  std::ifstream cfg_in(out + "/config.json");
  const nlohmann::json cfg = nlohmann::json::parse(cfg_in);
  EXPECT_EQ(cfg["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(cfg["model_type"], "llama");
  EXPECT_EQ(cfg["num_attention_heads"], 4);
  EXPECT_EQ(cfg["num_key_value_heads"], k.n_kv_head);
  EXPECT_EQ(cfg["hidden_act"], "silu");
  EXPECT_EQ(cfg["rope_theta"].get<double>(), 500.0);
  EXPECT_EQ(cfg["rms_norm_eps"].get<double>(), 1e-5);
  EXPECT_EQ(cfg["tie_word_embeddings"], k.tied);
  EXPECT_EQ(cfg["vocab_size"], 256);
  EXPECT_EQ(cfg["intermediate_size"], 48);
  const checkpoint::SafetensorsFile f = checkpoint::read_safetensors(out + "/model.safetensors");
  EXPECT_EQ(f.find("model.embed_tokens.weight")->shape, (std::vector<int64_t>{256, 32}));
  EXPECT_EQ(f.find("model.layers.1.self_attn.q_proj.weight")->shape, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(f.find("model.layers.1.self_attn.k_proj.weight")->shape, (std::vector<int64_t>{8 * k.n_kv_head, 32}));
  EXPECT_EQ(f.find("model.layers.0.mlp.down_proj.weight")->shape, (std::vector<int64_t>{32, 48}));  // [out, in]
  EXPECT_EQ(f.find("lm_head.weight") == nullptr, k.tied);
}

INSTANTIATE_TEST_SUITE_P(GqaAndMha, LlamaExport,
                         ::testing::Values(TrainedCase{"gqa_untied", 2, false}, TrainedCase{"mha_tied", 4, true}),
                         [](const auto& info) { return std::string(info.param.name); });

// Rows r and s of a parameter's (fp32, host) matrix exchanged.
void swap_rows(model::ParamArena& P, const std::string& name, int64_t r, int64_t s) {
  const kernels::Tensor t = P.master(P.index_of(name));
  float* a = t.as<float>();
  for (int64_t c = 0; c < t.dim(1); ++c) std::swap(a[r * t.dim(1) + c], a[s * t.dim(1) + c]);
}

// Every head's rows of a q_proj or k_proj in the interleaved order: row 2i <- i, row 2i+1 <- i + hs/2.
// Under rotate-half RoPE that pairs channels (2i, 2i+1) where the weights were trained for (i, i+hs/2).
void interleave_rope_rows(model::ParamArena& P, const std::string& name, int64_t hs) {
  const kernels::Tensor t = P.master(P.index_of(name));
  const int64_t C = t.dim(1), heads = t.dim(0) / hs;
  std::vector<float> copy(t.as<float>(), t.as<float>() + t.numel());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hs / 2; ++i)
      for (int64_t c = 0; c < C; ++c) {
        t.as<float>()[(h * hs + 2 * i) * C + c] = copy[size_t((h * hs + i) * C + c)];
        t.as<float>()[(h * hs + 2 * i + 1) * C + c] = copy[size_t((h * hs + i + hs / 2) * C + c)];
      }
}

// `windows` sequences of seq_len+1 tokens sampled from the model (temperature 1, each from a random
// first byte), written as one validation shard dir/val_000000.h5 with the corpus's tokenizer beside it.
void write_self_samples(const model::Model& m, const configs::ModelConfig& cfg, const std::string& corpus_dir,
                        const std::string& dir, int windows) {
  const kernels::Ops& ops = kernels::ops_for(kernels::Device::kCpu);
  const std::unique_ptr<inference::Generator> gen =
      inference::make_generator(cfg, const_cast<model::Model&>(m).params(), 256, ops);
  std::vector<uint32_t> tokens;
  for (int w = 0; w < windows; ++w) {
    inference::SamplingOptions o;
    o.seed = 77 + uint64_t(w);
    const int32_t first = int32_t(kernels::uniform01(kernels::mix(31, uint64_t(w)), 0) * 256);
    tokens.push_back(uint32_t(first));
    inference::generate(*gen, {first}, o, cfg.seq_len, -1, [&](int32_t id) { tokens.push_back(uint32_t(id)); });
  }
  ASSERT_EQ(tokens.size(), size_t(windows) * (cfg.seq_len + 1));
  fs::create_directories(dir);
  fs::copy(corpus_dir + "/shards/tokenizer", dir + "/tokenizer", fs::copy_options::recursive);
  const data::ShardInfo like = data::read_shard_info(corpus_dir + "/shards/val_000000.h5");
  data::write_shard(dir + "/val_000000.h5", tokens, {0}, like.vocab_size, like.eot_token, like.tokenizer);
}

TEST(LlamaExportLoud, RandomWeightsLeaveNoMappingUncheckedAndCarrySignal) {
  REQUIRE_PYTHON();
  const std::string dir = kiln_test::scratch_dir("export_llama_loud");
  prepare_corpus(dir, "byte");
  const std::string tok_dir = dir + "/shards/tokenizer";
  const auto tok = data::load_tokenizer(tok_dir);
  const kernels::Ops& ops = kernels::ops_for(kernels::Device::kCpu);
  for (const TrainedCase k : {TrainedCase{"gqa_untied", 2, false}, TrainedCase{"gqa_tied", 2, true},
                              TrainedCase{"mha_untied", 4, false}}) {
    const configs::Config c = llama_config(dir, k.name, k.n_kv_head, k.tied);
    const std::unique_ptr<model::Model> model =
        model::make_model(c.model, 256, /*micro_batch=*/4, ops, kernels::Device::kCpu, {}, kiln_test::self_comm());
    fill_loud_weights(model->params(), 2025);  // fp32 compute aliases the master: the model sees them
    const std::string samples = dir + "/" + k.name + "_samples", val = samples + "/val_*.h5";
    write_self_samples(*model, c.model, dir, samples, /*windows=*/160);
    const formats::EvalResult kiln =
        trainer::Evaluator(val, c.model.seq_len, 4, /*batches=*/-1).run(*model, kiln_test::self_comm());
    const auto export_to = [&](const std::string& name) {
      const std::string out = dir + "/" + k.name + "_" + name;
      fs::create_directories(out);
      formats::write_hf_folder(model->params(), c.model, *tok, tok_dir, out, kernels::DType::F32);
      return out;
    };
    int64_t tokens = 0;
    const double ref = reference_loss(export_to("hf"), val, &tokens);
    const double rel = std::abs(ref - kiln.loss) / kiln.loss;
    std::printf("[export llama loud %s fp32] kiln loss %.10f | reference %.10f | relative difference %.3e | %lld tokens\n",
                k.name, kiln.loss, ref, rel, (long long)kiln.tokens);
    EXPECT_EQ(tokens, kiln.tokens);
    EXPECT_LT(rel, 1e-4) << k.name;

    // Signal: q rows of two heads exchanged (head 0 channel 1 <-> head 1 channel 1, layer 0).
    const std::string q = "model.layers.0.self_attn.q_proj.weight";
    const int64_t hs = c.model.head_dim();
    swap_rows(model->params(), q, 1, hs + 1);
    const double swapped = reference_loss(export_to("swapped_q"), val);
    swap_rows(model->params(), q, 1, hs + 1);
    // Signal: RoPE pairs in the interleaved order in every layer's q and k.
    for (int l = 0; l < c.model.n_layer; ++l)
      for (const char* w : {"q_proj", "k_proj"})
        interleave_rope_rows(model->params(), "model.layers." + std::to_string(l) + ".self_attn." + w + ".weight", hs);
    const double interleaved = reference_loss(export_to("interleaved_rope"), val);
    const double moved_swap = (swapped - ref) / ref, moved_rope = (interleaved - ref) / ref;
    std::printf("[export llama loud %s] swapping two q rows moves the loss by %+.2f%%, interleaved RoPE rows by %+.2f%%\n",
                k.name, 100 * moved_swap, 100 * moved_rope);
    EXPECT_GT(std::abs(moved_swap), 0.01) << k.name;
    EXPECT_GT(std::abs(moved_rope), 0.01) << k.name;
  }
}

}  // namespace
