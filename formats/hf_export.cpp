// formats/hf_export.cpp
// kiln's parameters -> a Hugging Face folder (see hf_export.h): the generic writer. What goes where
// for each architecture is hf_gpt2.cpp (GPT2LMHeadModel) and hf_llama.cpp (LlamaForCausalLM).
#include "formats/hf_export.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "checkpoint/safetensors.h"
#include "formats/hf_layout.h"
#include "data/io.h"
#include "data/tokenizer_hf.h"
#include "inference/trained_checkpoint.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "model/params.h"
#include "model/weights_io.h"

namespace formats {

using model::ParamArena;
using model::ParamSpec;
using kernels::Tensor;

namespace {

namespace fs = std::filesystem;
using detail::HfLayout;
using detail::HfTensor;

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

namespace detail {

HfTensor hf_tensor(const ParamArena& params, int i, int vocab_real, std::string hf_name) {
  const ParamSpec& s = params.spec(i);
  HfTensor t;
  t.name = std::move(hf_name);
  t.param = i;
  if (s.shape.ndim == 1) {
    t.cols = s.shape[0];
  } else {
    KILN_CHECK(s.shape.ndim == 2, "hf export: parameter " + s.name + " is neither a vector nor a matrix");
    t.matrix = true;
    t.rows = s.padded_rows_from >= 0 ? vocab_real : s.shape[0];  // drop vocab padding
    t.cols = s.shape[1];
  }
  return t;
}

const char* torch_dtype_name(kernels::DType d) {
  switch (d) {
    case kernels::DType::BF16: return "bfloat16";
    case kernels::DType::F16: return "float16";
    default: return "float32";
  }
}

}  // namespace detail

HfExportSummary write_hf_folder(const ParamArena& params, const configs::ModelConfig& m, const data::Tokenizer& tok,
                                const std::string& tokenizer_dir, const std::string& dir, kernels::DType dtype) {
  KILN_CHECK(params.tp() == 1 && params.master_dtype() == kernels::DType::F32 && params.device() == kernels::Device::kCpu,
             "write_hf_folder: needs the whole fp32 weights on the host (tp = 1)");
  const int vocab_real = tok.vocab_size();
  const HfLayout layout = m.is_llama() ? detail::hf_llama_layout(params, m, vocab_real, tok.eot_token(), dtype)
                                       : detail::hf_gpt2_layout(params, m, vocab_real, tok.eot_token(), dtype);
  const std::vector<HfTensor>& tensors = layout.tensors;
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
  write_text(fs::path(dir) / "config.json", layout.config.dump(2) + "\n");
  data::write_hf_tokenizer(tok, tokenizer_dir, dir, m.seq_len);
  data::io::fsync_path(dir, /*is_dir=*/true);
  sum.out_dir = dir;
  sum.tensors = int(tensors.size());
  sum.vocab_real = vocab_real;
  sum.vocab_padded = m.vocab_size;
  sum.tied = m.tied();
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
  KILN_REQUIRE_INPUT(m.arch == "gpt2" || m.arch == "llama", "checkpoint " + ckpt.dir + ": model.arch " + m.arch +
                                                                " has no Hugging Face export (expected gpt2 or llama)");

  // The fp32 master weights, whole (tp = 1) whatever layout wrote them; no optimizer state.
  ParamArena params(model::param_specs(m, ckpt.vocab_real()), kernels::Device::kCpu, kernels::DType::F32,
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
