// inference/trained_checkpoint.cpp
#include "inference/trained_checkpoint.h"

#include <filesystem>
#include <fstream>

#include "configs/load.h"
#include "configs/validate.h"
#include "kernels/check.h"
#include "kernels/finite.h"
#include "model/memory_estimate.h"
#include "model/weights_io.h"

namespace inference {

namespace fs = std::filesystem;

namespace {

// The checkpoint folder `path` stands for (see open_checkpoint), or "" when it names none.
std::string resolve_checkpoint_dir(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path / "manifest.yaml", ec)) return path.string();
  for (const fs::path& checkpoints : {path, path / "checkpoints"}) {
    std::ifstream latest(checkpoints / "latest");
    std::string name;
    if (latest >> name && fs::exists(checkpoints / name / "manifest.yaml", ec)) return (checkpoints / name).string();
  }
  return "";
}

}  // namespace

TrainedCheckpoint open_checkpoint(const std::string& path) {
  std::error_code ec;
  KILN_REQUIRE_INPUT(fs::exists(path, ec), "--checkpoint: '" + path + "' does not exist");
  TrainedCheckpoint c;
  c.dir = resolve_checkpoint_dir(path);
  KILN_REQUIRE_INPUT(!c.dir.empty(), "--checkpoint: '" + path +
                                         "' is not a checkpoint (no manifest.yaml), nor a run or checkpoints folder "
                                         "whose `latest` names one");
  c.manifest = checkpoint::read_manifest(c.dir);
  const std::string source = c.dir + "/manifest.yaml (config)";
  c.config = configs::config_from_yaml_string(c.manifest.state.config_yaml, source);
  // The embedded config is checked like a user's: a manifest is a file anyone can edit.
  const std::vector<std::string> problems = configs::validation_problems(c.config);
  if (!problems.empty()) {
    std::string all;
    for (const std::string& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw kernels::InputError(source + ": invalid config: " + all);
  }
  // Checkpoints carry their tokenizer; older ones are served by the folder beside the shards.
  c.tokenizer_dir = c.dir + "/tokenizer";
  if (!fs::is_directory(c.tokenizer_dir, ec)) c.tokenizer_dir = data::shard_tokenizer_dir(c.config.data.train);
  KILN_REQUIRE_INPUT(!c.tokenizer_dir.empty(), "checkpoint " + c.dir + ": no tokenizer/ folder in it, nor beside " +
                                                   "the training shards '" + c.config.data.train + "'");
  c.tokenizer = data::load_tokenizer(c.tokenizer_dir);
  KILN_REQUIRE_INPUT(c.tokenizer->vocab_size() <= c.config.model.vocab_size,
                     "checkpoint " + c.dir + ": tokenizer " + c.tokenizer_dir + " has " +
                         std::to_string(c.tokenizer->vocab_size()) + " ids, more than model.vocab_size " +
                         std::to_string(c.config.model.vocab_size));
  return c;
}

std::unique_ptr<model::Gpt2Model> load_model(const TrainedCheckpoint& c, int micro_batch, kernels::Device device,
                                             kernels::DType compute, parallel::Comm& tp) {
  model::require_memory({c.config.model, micro_batch, tp.size(), 0, compute, kernels::DType::F32,
                         /*checkpoint_staging=*/false, device},
                        "checkpoint " + c.dir + ": model");
  const kernels::Ops& ops = kernels::ops_for(device);
  auto m = std::make_unique<model::Gpt2Model>(c.config.model, c.vocab_real(), micro_batch, ops, device,
                                              model::ModelPrecision{compute, kernels::DType::F32}, tp);
  model::load_weights(c.manifest, m->params(), ops);
  // Non-finite weights give nothing but NaN: refuse them here rather than print garbage later.
  // (kiln train never writes them; a checkpoint from elsewhere, or an old one, might hold them.)
  const model::ParamArena& P = m->params();
  for (int i = 0; i < P.size(); ++i) {
    const kernels::FiniteScan f = kernels::scan_finite(P.master(i));
    KILN_REQUIRE_INPUT(f.finite(), "checkpoint " + c.dir + ": tensor master/" + P.spec(i).name + " holds " +
                                       std::to_string(f.bad) + " non-finite value(s) (first at element " +
                                       std::to_string(f.first_bad) + "); refusing to use these weights");
  }
  return m;
}

}  // namespace inference
