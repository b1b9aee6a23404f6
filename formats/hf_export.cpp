// formats/hf_export.cpp
// kiln's GPT-2 parameters -> Hugging Face GPT2LMHeadModel (see hf_export.h).
//
// C d_model, F d_ff, T seq_len (= n_positions), V padded vocab, Vr the tokenizer's vocab.
// How kiln's tensors become HF's:
//   wte (V,C)                      -> transformer.wte.weight (Vr,C)       first Vr rows
//   wpe (T,C)                      -> transformer.wpe.weight (T,C)
//   h.i.ln_{1,2}.{weight,bias} (C) -> transformer.h.i.ln_{1,2}.*          as is
//   h.i.attn.c_attn.weight (3C,C)  -> transformer.h.i.attn.c_attn.weight (C,3C)   transposed
//   h.i.attn.c_proj.weight (C,C)   -> ...attn.c_proj.weight (C,C)                  transposed
//   h.i.mlp.c_fc.weight (F,C)      -> ...mlp.c_fc.weight (C,F)                     transposed
//   h.i.mlp.c_proj.weight (C,F)    -> ...mlp.c_proj.weight (F,C)                   transposed
//   biases, ln_f                   -> as is (transformer. prefix)
//   lm_head.weight (V,C), untied   -> lm_head.weight (Vr,C)               first Vr rows (nn.Linear)
// The transposes: kiln's matmul computes x @ W^T + b with W stored (out, in); HF's Conv1D
// computes x @ W + b with W stored (in, out). Tied models get no lm_head.weight: save_pretrained
// drops it too, and from_pretrained ties it to wte.
//
// q|k|v order inside c_attn: kiln's attention (kernels/cpu/attention.h) reads the 3C outputs as
// [q | k | v], each C = n_head heads of C/n_head consecutive channels (head h of q at h*hs, k at
// C + h*hs, v at 2C + h*hs). HF's GPT2Attention does qkv.split(C, dim=2) then views each as
// (n_head, hs) with the head index outermost: the same order, so columns need no permutation.
// The rest of the forward agrees as well: pre-LN blocks, LayerNorm eps 1e-5, tanh GELU (HF
// "gelu_new"), scores scaled by 1/sqrt(hs), causal mask, learned positions.
#include "formats/hf_export.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string_view>
#include <vector>

#include "checkpoint/safetensors.h"
#include "data/io.h"
#include "data/tokenizer_hf.h"
#include "inference/trained_checkpoint.h"
#include "kernels/ops.h"
#include "model/params.h"
#include "model/weights_io.h"

namespace formats {

using model::ParamArena;
using model::ParamSpec;
using kernels::Tensor;

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // config.json in the order written

// Where one kiln parameter goes in model.safetensors.
struct HfTensor {
  std::string name;             // HF name
  int param = 0;                // index in the arena
  bool matrix = false;          // 2-D (else a vector of cols elements)
  int64_t rows = 1, cols = 1;   // kiln's shape after dropping vocab padding rows
  bool transpose = false;       // Conv1D: HF stores (cols, rows)
  std::vector<int64_t> hf_shape() const {
    if (!matrix) return {cols};
    return transpose ? std::vector<int64_t>{cols, rows} : std::vector<int64_t>{rows, cols};
  }
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The linear layers GPT-2 implements as Conv1D (weights stored (in, out)).
bool is_conv1d_weight(const std::string& name) {
  for (const char* s : {".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"})
    if (ends_with(name, s)) return true;
  return false;
}

std::vector<HfTensor> hf_tensors(const ParamArena& params, int vocab_real) {
  std::vector<HfTensor> out;
  for (int i = 0; i < params.size(); ++i) {
    const ParamSpec& s = params.spec(i);
    HfTensor t;
    t.param = i;
    if (s.shape.ndim == 1) {
      t.cols = s.shape[0];
    } else {
      KILN_CHECK(s.shape.ndim == 2, "hf export: parameter " + s.name + " is neither a vector nor a matrix");
      t.matrix = true;
      t.rows = s.padded_rows_from >= 0 ? vocab_real : s.shape[0];  // drop vocab padding
      t.cols = s.shape[1];
      t.transpose = is_conv1d_weight(s.name);
      // A new kind of matrix must be placed here on purpose, never exported in a guessed layout.
      KILN_CHECK(t.transpose || s.name == "wte" || s.name == "wpe" || s.name == "lm_head.weight",
                 "hf export: no Hugging Face layout known for parameter " + s.name);
    }
    if (s.name == "wte" || s.name == "wpe") t.name = "transformer." + s.name + ".weight";
    else if (s.name == "lm_head.weight") t.name = s.name;
    else t.name = "transformer." + s.name;
    out.push_back(t);
  }
  return out;
}

// The tensor's elements in HF order and the export dtype. src: kiln's fp32 tensor, row-major.
std::vector<char> hf_bytes(const float* src, const HfTensor& t, int64_t src_cols, kernels::DType dtype) {
  const int64_t n = t.rows * t.cols;
  std::vector<char> out(size_t(n) * kernels::dtype_size(dtype));
  for (int64_t k = 0; k < n; ++k) {
    // Output element k of a transposed tensor is (j, i) of HF = (i, j) of kiln.
    const int64_t i = t.transpose ? k % t.rows : k / t.cols, j = t.transpose ? k / t.rows : k % t.cols;
    const float x = src[i * src_cols + j];
    switch (dtype) {
      case kernels::DType::F32: reinterpret_cast<float*>(out.data())[k] = x; break;
      case kernels::DType::BF16: reinterpret_cast<uint16_t*>(out.data())[k] = kernels::bf16::from_float(x); break;
      case kernels::DType::F16: reinterpret_cast<uint16_t*>(out.data())[k] = kernels::fp16::from_float(x); break;
      default: KILN_CHECK(false, "hf export: dtype must be fp32, bf16 or fp16");
    }
  }
  return out;
}

const char* torch_dtype_name(kernels::DType d) {
  switch (d) {
    case kernels::DType::BF16: return "bfloat16";
    case kernels::DType::F16: return "float16";
    default: return "float32";
  }
}

// GPT2Config's fields. bos/eos are written even when null: GPT2Config defaults them to 50256,
// which a 256-id byte model does not have.
Json hf_config(const configs::ModelConfig& m, int vocab_real, int eot, kernels::DType dtype) {
  const Json special = eot >= 0 ? Json(eot) : Json(nullptr);
  Json c;
  c["architectures"] = {"GPT2LMHeadModel"};
  c["model_type"] = "gpt2";
  c["vocab_size"] = vocab_real;
  c["n_positions"] = m.seq_len;
  c["n_ctx"] = m.seq_len;
  c["n_embd"] = m.d_model;
  c["n_layer"] = m.n_layer;
  c["n_head"] = m.n_head;
  c["n_inner"] = m.d_ff == 4 * m.d_model ? Json(nullptr) : Json(m.d_ff);  // null means 4 * n_embd
  c["activation_function"] = "gelu_new";  // HF's name for the tanh approximation kiln uses
  c["layer_norm_epsilon"] = kernels::kLayernormEps;
  c["resid_pdrop"] = 0.0;  // kiln trains without dropout
  c["embd_pdrop"] = 0.0;
  c["attn_pdrop"] = 0.0;
  c["initializer_range"] = 0.02;
  c["scale_attn_weights"] = true;  // 1/sqrt(head_dim)
  c["scale_attn_by_inverse_layer_idx"] = false;
  c["reorder_and_upcast_attn"] = false;
  c["use_cache"] = true;
  c["bos_token_id"] = special;
  c["eos_token_id"] = special;
  c["tie_word_embeddings"] = m.tie_embeddings;
  c["torch_dtype"] = torch_dtype_name(dtype);
  return c;
}

void write_text(const fs::path& path, const std::string& text) {
  if (!data::io::write_file_synced(path.string(), text))
    throw kernels::InputError("cannot write " + path.string() + " (expected a writable folder)");
}

// --out without trailing separators ("dir/" -> "dir"), so "dir.tmp" is a sibling, not a child.
fs::path clean_out_path(const std::string& out) {
  fs::path p = fs::path(out).lexically_normal();
  while (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

// Refuses an --out that is a file, is not empty (without --force), or holds the checkpoint
// (--force would delete what is being exported).
void check_out_dir(const fs::path& out, const std::string& checkpoint_dir, bool force) {
  KILN_REQUIRE_INPUT(!out.empty(), "--out: an output folder is required");
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  KILN_REQUIRE_INPUT(fs::is_directory(out, ec), "--out: '" + out.string() + "' exists and is not a folder");
  KILN_REQUIRE_INPUT(force || fs::is_empty(out, ec),
                     "--out: '" + out.string() + "' exists and is not empty (pass --force to replace it)");
  const std::string o = fs::weakly_canonical(out, ec).string(), c = fs::weakly_canonical(checkpoint_dir, ec).string();
  KILN_REQUIRE_INPUT(!(c == o || c.rfind(o + "/", 0) == 0),
                     "--out: '" + out.string() + "' holds the checkpoint " + checkpoint_dir + " being exported");
}

// Removes the temp folder unless the export got as far as renaming it.
struct TempDirGuard {
  fs::path dir;
  ~TempDirGuard() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

}  // namespace

HfExportSummary write_hf_folder(const ParamArena& params, const configs::ModelConfig& m, const data::Tokenizer& tok,
                                const std::string& tokenizer_dir, const std::string& dir, kernels::DType dtype) {
  KILN_CHECK(params.tp() == 1 && params.master_dtype() == kernels::DType::F32 && params.device() == kernels::Device::kCpu,
             "write_hf_folder: needs the whole fp32 weights on the host (tp = 1)");
  const int vocab_real = tok.vocab_size();
  const std::vector<HfTensor> tensors = hf_tensors(params, vocab_real);
  std::vector<checkpoint::SafetensorsInfo> infos;
  HfExportSummary sum;
  for (const HfTensor& t : tensors) {
    infos.push_back({t.name, dtype, t.hf_shape()});
    sum.parameters += t.rows * t.cols;
  }
  // transformers refuses safetensors files whose metadata does not say format "pt".
  checkpoint::SafetensorsWriter writer((fs::path(dir) / "model.safetensors").string(), infos, {{"format", "pt"}});
  for (const HfTensor& t : tensors) {
    const Tensor src = params.master(t.param);
    const int64_t src_cols = src.shape.ndim == 2 ? src.shape[1] : src.shape[0];
    const std::vector<char> bytes = hf_bytes(src.as<float>(), t, src_cols, dtype);
    writer.write_next(bytes.data(), bytes.size());
  }
  writer.finish();
  write_text(fs::path(dir) / "config.json", hf_config(m, vocab_real, tok.eot_token(), dtype).dump(2) + "\n");
  data::write_hf_tokenizer(tok, tokenizer_dir, dir, m.seq_len);
  data::io::fsync_path(dir, /*is_dir=*/true);
  sum.out_dir = dir;
  sum.tensors = int(tensors.size());
  sum.vocab_real = vocab_real;
  sum.vocab_padded = m.vocab_size;
  sum.tied = m.tie_embeddings;
  return sum;
}

HfExportSummary export_hf(const HfExportOptions& opt) {
  KILN_REQUIRE_INPUT(opt.dtype == kernels::DType::F32 || opt.dtype == kernels::DType::BF16 ||
                         opt.dtype == kernels::DType::F16,
                     std::string("--dtype: ") + kernels::dtype_name(opt.dtype) +
                         " is not exportable (expected fp32, bf16 or fp16)");
  const inference::TrainedCheckpoint ckpt = inference::open_checkpoint(opt.checkpoint);
  const fs::path out = clean_out_path(opt.out_dir);
  check_out_dir(out, ckpt.dir, opt.force);
  const configs::ModelConfig& m = ckpt.config.model;
  KILN_REQUIRE_INPUT(m.arch == "gpt2", "checkpoint " + ckpt.dir + ": model.arch " + m.arch +
                                           " has no Hugging Face export (expected gpt2)");

  // The fp32 master weights, whole (tp = 1) whatever layout wrote them; no optimizer state.
  ParamArena params(model::gpt2_param_specs(m, ckpt.vocab_real()), kernels::Device::kCpu, kernels::DType::F32,
                    kernels::DType::F32, /*tp=*/1, /*tp_rank=*/0, /*length_multiple=*/1, /*moments=*/false);
  model::load_weights(ckpt.manifest, params, kernels::ops_for(kernels::Device::kCpu));

  // A name no user folder is likely to have: a stale one (an export that died) is removed.
  const fs::path tmp = out.string() + ".kiln-export.tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  KILN_REQUIRE_INPUT(!ec, "--out: cannot create " + tmp.string() + ": " + ec.message());
  TempDirGuard guard{tmp};
  HfExportSummary sum = write_hf_folder(params, m, *ckpt.tokenizer, ckpt.tokenizer_dir, tmp.string(), opt.dtype);

  // Only a complete folder takes the name --out.
  if (fs::exists(out, ec)) fs::remove_all(out, ec);
  fs::rename(tmp, out, ec);
  KILN_REQUIRE_INPUT(!ec, "--out: cannot rename " + tmp.string() + " to " + out.string() + ": " + ec.message());
  guard.dir.clear();
  data::io::fsync_path(data::io::parent_dir(out.string()), /*is_dir=*/true);
  sum.checkpoint_dir = ckpt.dir;
  sum.out_dir = out.string();
  sum.step = ckpt.manifest.state.step;
  return sum;
}

}  // namespace formats
