// tests/formats/test_hf_export.cpp
// The Hugging Face mapping of trainer/hf_export.h, read back with the safetensors reader: every
// tensor has HF's name and shape (written down here from GPT2LMHeadModel, not from the code), its
// values are kiln's master weights (transposed for Conv1D, padded vocab rows dropped), bf16/fp16
// are the round-to-nearest-even of fp32, config.json and the byte tokenizer's files say what
// transformers needs, and --out is created only complete. The loss equivalence with an
// independent forward is tests/tools/test_export.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "checkpoint/safetensors.h"
#include "kernels/ops.h"
#include "tests/trainer/trainer_test_util.h"
#include "formats/hf_export.h"
#include "model/weights_io.h"
#include "inference/trained_checkpoint.h"
#include "trainer/trainer.h"
#include "tests/common/one_rank.h"

namespace {

namespace fs = std::filesystem;
using kernels::DType;

constexpr int kVocabPadded = 320, kVocabReal = 256, kC = 32, kF = 64, kT = 16, kLayers = 2;

// A byte-level model with a padded vocabulary, trained a few steps; its run folder (checkpoint at
// the last step).
std::string trained_run(const std::string& dir, bool tied) {
  trainer_test::prepare_phrase_corpus(dir, 4, 200, [](int i, int d) {
    return (i + d) % 3 ? "the sea was calm. " : "a whale rose near the ship! ";
  });
  configs::Config c = trainer_test::cpu_run_config(dir, tied ? "tied" : "untied", /*n_head=*/2);
  c.model.vocab_size = kVocabPadded;
  c.model.tie_embeddings = tied;
  c.train.global_batch = 2;
  c.train.max_steps = 6;
  c.eval.every = 0;
  c.checkpoint.every = 6;
  trainer::Trainer(c, kiln_test::one_rank_cpu()).run();
  return c.run.out_dir + "/" + c.run.name;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What GPT2LMHeadModel.save_pretrained writes for this model: name -> shape.
std::map<std::string, std::vector<int64_t>> hf_gpt2_shapes(bool tied) {
  std::map<std::string, std::vector<int64_t>> s = {{"transformer.wte.weight", {kVocabReal, kC}},
                                                   {"transformer.wpe.weight", {kT, kC}},
                                                   {"transformer.ln_f.weight", {kC}},
                                                   {"transformer.ln_f.bias", {kC}}};
  for (int l = 0; l < kLayers; ++l) {
    const std::string h = "transformer.h." + std::to_string(l) + ".";
    s[h + "ln_1.weight"] = s[h + "ln_1.bias"] = s[h + "ln_2.weight"] = s[h + "ln_2.bias"] = {kC};
    s[h + "attn.c_attn.weight"] = {kC, 3 * kC};  // Conv1D: (in, out)
    s[h + "attn.c_attn.bias"] = {3 * kC};
    s[h + "attn.c_proj.weight"] = {kC, kC};
    s[h + "attn.c_proj.bias"] = {kC};
    s[h + "mlp.c_fc.weight"] = {kC, kF};
    s[h + "mlp.c_fc.bias"] = {kF};
    s[h + "mlp.c_proj.weight"] = {kF, kC};
    s[h + "mlp.c_proj.bias"] = {kC};
  }
  if (!tied) s["lm_head.weight"] = {kVocabReal, kC};  // nn.Linear: (out, in)
  return s;
}

// kiln's fp32 master weights of a checkpoint, whole.
struct KilnWeights {
  inference::TrainedCheckpoint ckpt;
  std::unique_ptr<model::ParamArena> params;
  std::vector<float> get(const std::string& name) const {
    const kernels::Tensor t = params->master(params->index_of(name));
    return std::vector<float>(t.as<float>(), t.as<float>() + t.numel());
  }
};

KilnWeights kiln_weights(const std::string& run) {
  KilnWeights w{inference::open_checkpoint(run), nullptr};
  w.params = std::make_unique<model::ParamArena>(model::gpt2_param_specs(w.ckpt.config.model, kVocabReal),
                                                   kernels::Device::kCpu, DType::F32, DType::F32, 1, 0, 1, false);
  model::load_weights(w.ckpt.manifest, *w.params, kernels::ops_for(kernels::Device::kCpu));
  return w;
}

formats::HfExportSummary export_to(const std::string& run, const std::string& out, DType dtype = DType::F32,
                                   bool force = false) {
  return formats::export_hf({run, out, dtype, force});
}

class HfExport : public ::testing::TestWithParam<bool> {};  // param: tied embeddings

TEST_P(HfExport, TensorsHaveHfNamesShapesAndKilnValues) {
  const bool tied = GetParam();
  const std::string dir = kiln_test::scratch_dir("hf_export");
  const std::string run = trained_run(dir, tied);
  const formats::HfExportSummary sum = export_to(run, dir + "/hf");
  EXPECT_EQ(sum.vocab_real, kVocabReal);
  EXPECT_EQ(sum.vocab_padded, kVocabPadded);
  EXPECT_EQ(sum.step, 6);
  EXPECT_FALSE(fs::exists(dir + "/hf.kiln-export.tmp"));

  const checkpoint::SafetensorsFile f = checkpoint::read_safetensors(dir + "/hf/model.safetensors");
  EXPECT_EQ(f.metadata.at("format"), "pt");  // transformers refuses any other
  const auto want = hf_gpt2_shapes(tied);
  std::map<std::string, std::vector<int64_t>> got;
  int64_t params = 0;
  for (const checkpoint::SafetensorsInfo& t : f.tensors) {
    got[t.name] = t.shape;
    EXPECT_EQ(t.dtype, DType::F32) << t.name;
    params += t.nbytes() / 4;
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(sum.parameters, params);

  // Values: HF's element (i, j) of a Conv1D weight is kiln's (j, i); wte/lm_head keep their first
  // 256 rows; everything else is copied.
  const KilnWeights k = kiln_weights(run);
  for (const auto& [name, shape] : want) {
    const std::vector<float> hf = f.as_float(name);
    const bool conv1d = name.find(".c_attn.weight") != std::string::npos || name.find(".c_proj.weight") != std::string::npos ||
                        name.find(".c_fc.weight") != std::string::npos;
    std::string kname = name.rfind("transformer.", 0) == 0 ? name.substr(12) : name;
    if (kname == "wte.weight" || kname == "wpe.weight") kname = kname.substr(0, 3);
    const std::vector<float> kv = k.get(kname);
    if (conv1d) {
      const int64_t in = shape[0], out = shape[1];  // kiln stores (out, in)
      ASSERT_EQ(int64_t(kv.size()), in * out) << name;
      for (int64_t i = 0; i < in; ++i)
        for (int64_t j = 0; j < out; ++j)
          ASSERT_EQ(hf[size_t(i * out + j)], kv[size_t(j * in + i)]) << name << " " << i << "," << j;
    } else {
      ASSERT_LE(hf.size(), kv.size()) << name;
      for (size_t e = 0; e < hf.size(); ++e) ASSERT_EQ(hf[e], kv[e]) << name << " " << e;
    }
  }
  // The rows that were dropped really are kiln's padding (zero, never trained).
  const std::vector<float> wte = k.get("wte");
  for (size_t e = size_t(kVocabReal) * kC; e < wte.size(); ++e) ASSERT_EQ(wte[e], 0.f);
}

TEST_P(HfExport, ConfigJsonHasGpt2ConfigFields) {
  const bool tied = GetParam();
  const std::string dir = kiln_test::scratch_dir("hf_export");
  export_to(trained_run(dir, tied), dir + "/hf", DType::BF16);
  const nlohmann::json c = read_json(dir + "/hf/config.json");
  EXPECT_EQ(c["architectures"], nlohmann::json::array({"GPT2LMHeadModel"}));
  EXPECT_EQ(c["model_type"], "gpt2");
  EXPECT_EQ(c["vocab_size"], kVocabReal);
  EXPECT_EQ(c["n_positions"], kT);
  EXPECT_EQ(c["n_ctx"], kT);
  EXPECT_EQ(c["n_embd"], kC);
  EXPECT_EQ(c["n_layer"], kLayers);
  EXPECT_EQ(c["n_head"], 2);
  EXPECT_EQ(c["n_inner"], kF);  // not 4 * n_embd here, so it must be explicit
  EXPECT_EQ(c["activation_function"], "gelu_new");
  EXPECT_DOUBLE_EQ(c["layer_norm_epsilon"].get<double>(), 1e-5);
  for (const char* p : {"resid_pdrop", "embd_pdrop", "attn_pdrop"}) EXPECT_EQ(c[p], 0.0) << p;
  EXPECT_EQ(c["scale_attn_weights"], true);
  EXPECT_EQ(c["tie_word_embeddings"], tied);
  EXPECT_EQ(c["torch_dtype"], "bfloat16");
  // Present and null: GPT2Config's default 50256 is no id of a 256-id model.
  ASSERT_TRUE(c.contains("bos_token_id") && c.contains("eos_token_id"));
  EXPECT_TRUE(c["bos_token_id"].is_null());
  EXPECT_TRUE(c["eos_token_id"].is_null());
}

INSTANTIATE_TEST_SUITE_P(TiedAndUntied, HfExport, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "tied" : "untied"; });

TEST(HfExportByteTokenizer, VocabMapsEachBytesCharacterToItsId) {
  const std::string dir = kiln_test::scratch_dir("hf_export");
  export_to(trained_run(dir, true), dir + "/hf");
  const nlohmann::json v = read_json(dir + "/hf/vocab.json");
  ASSERT_EQ(v.size(), 256u);
  std::set<int> ids;
  for (const auto& [k, id] : v.items()) ids.insert(id.get<int>());
  EXPECT_EQ(ids.size(), 256u);
  EXPECT_EQ(*ids.begin(), 0);
  EXPECT_EQ(*ids.rbegin(), 255);
  // GPT-2's bytes_to_unicode: printable bytes are themselves, the 68 others U+0100.. in order.
  EXPECT_EQ(v["A"], 65);
  EXPECT_EQ(v["~"], 126);
  EXPECT_EQ(v["\u00a1"], 0xA1);   // ¡, printable Latin-1
  EXPECT_EQ(v["\u00ff"], 0xFF);   // ÿ
  EXPECT_EQ(v["\u0100"], 0);      // Ā = byte 0
  EXPECT_EQ(v["\u0120"], 32);     // Ġ = space (33rd non-printable byte)
  EXPECT_EQ(v["\u0121"], 127);    // ġ = DEL
  EXPECT_EQ(v["\u0143"], 0xAD);   // Ń = soft hyphen, the last of the 68
  EXPECT_EQ(read_text(dir + "/hf/merges.txt"), "#version: 0.2\n");  // no merges: one token per byte
  const nlohmann::json t = read_json(dir + "/hf/tokenizer_config.json");
  EXPECT_EQ(t["tokenizer_class"], "GPT2Tokenizer");
  EXPECT_EQ(t["model_max_length"], kT);
  for (const char* s : {"bos_token", "eos_token", "unk_token"}) EXPECT_TRUE(t[s].is_null()) << s;
  EXPECT_EQ(read_json(dir + "/hf/special_tokens_map.json"), nlohmann::json::object());
}

TEST(HfExportDtype, HalfPrecisionIsFp32RoundedToNearestEven) {
  const std::string dir = kiln_test::scratch_dir("hf_export");
  const std::string run = trained_run(dir, false);
  export_to(run, dir + "/fp32");
  export_to(run, dir + "/bf16", DType::BF16);
  export_to(run, dir + "/fp16", DType::F16);
  const checkpoint::SafetensorsFile f32 = checkpoint::read_safetensors(dir + "/fp32/model.safetensors");
  for (const auto& [sub, dt] : {std::pair{"bf16", DType::BF16}, std::pair{"fp16", DType::F16}}) {
    const checkpoint::SafetensorsFile h = checkpoint::read_safetensors(dir + "/" + sub + "/model.safetensors");
    ASSERT_EQ(h.tensors.size(), f32.tensors.size());
    for (const checkpoint::SafetensorsInfo& t : h.tensors) {
      EXPECT_EQ(t.dtype, dt) << t.name;
      const std::vector<float> ref = f32.as_float(t.name);
      const auto* bits = reinterpret_cast<const uint16_t*>(h.bytes(t));
      for (size_t e = 0; e < ref.size(); ++e) {
        const uint16_t want = dt == DType::BF16 ? kernels::bf16::from_float(ref[e]) : kernels::fp16::from_float(ref[e]);
        ASSERT_EQ(bits[e], want) << sub << " " << t.name << " " << e;
      }
    }
    EXPECT_EQ(read_json(dir + "/" + sub + "/config.json")["torch_dtype"], dt == DType::BF16 ? "bfloat16" : "float16");
  }
}

TEST(HfExportOut, RefusesNonEmptyOutUnlessForcedAndNeverItsOwnCheckpoint) {
  const std::string dir = kiln_test::scratch_dir("hf_export");
  const std::string run = trained_run(dir, true);
  kiln_test::write_file(dir + "/busy/keep.txt", "user data");
  std::string msg = kiln_test::input_error_of([&] { export_to(run, dir + "/busy"); });
  EXPECT_HAS(msg, "--out");
  EXPECT_HAS(msg, dir + "/busy");
  EXPECT_HAS(msg, "--force");
  EXPECT_TRUE(fs::exists(dir + "/busy/keep.txt"));
  // --force replaces it with a complete export; a trailing slash changes nothing.
  export_to(run, dir + "/busy/", DType::F32, /*force=*/true);
  EXPECT_FALSE(fs::exists(dir + "/busy/keep.txt"));
  EXPECT_TRUE(fs::exists(dir + "/busy/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/busy.kiln-export.tmp"));
  // An empty folder is fine without --force.
  fs::create_directories(dir + "/empty");
  export_to(run, dir + "/empty");
  EXPECT_TRUE(fs::exists(dir + "/empty/config.json"));
  // Never replace the folder that holds the checkpoint being exported.
  msg = kiln_test::input_error_of([&] { export_to(run, run, DType::F32, true); });
  EXPECT_HAS(msg, "holds the checkpoint");
  EXPECT_TRUE(fs::exists(run + "/checkpoints/latest"));
  kiln_test::write_file(dir + "/file", "x");
  EXPECT_HAS(kiln_test::input_error_of([&] { export_to(run, dir + "/file", DType::F32, true); }), "not a folder");
  msg = kiln_test::input_error_of([&] { export_to(dir + "/no_such_run", dir + "/out"); });
  EXPECT_HAS(msg, "--checkpoint");
  EXPECT_HAS(msg, dir + "/no_such_run");
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

}  // namespace
