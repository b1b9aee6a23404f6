// inference/trained_checkpoint.h
// A checkpoint opened to be used rather than resumed: `kiln eval`, `sample` and `export` start here.
// It brings the resolved config the model was trained with and the tokenizer saved beside the
// weights, so none of them needs the training data or a config file.
#pragma once

#include <memory>
#include <string>

#include "checkpoint/checkpoint.h"
#include "configs/config.h"
#include "data/tokenizer.h"
#include "parallel/comm.h"
#include "model/gpt2.h"
#include "parallel/comm.h"

namespace inference {

struct TrainedCheckpoint {
  std::string dir;                           // the step_XXXXXXXX folder
  checkpoint::Manifest manifest;
  configs::Config config;                    // as trained (manifest's resolved config)
  std::string tokenizer_dir;                 // dir/tokenizer, or the one beside the training shards
  std::unique_ptr<data::Tokenizer> tokenizer;
  int vocab_real() const { return tokenizer->vocab_size(); }
};

// `path` is a checkpoint folder, a run's checkpoints/ folder or a run folder; the latter two mean
// the checkpoint their `latest` file names. Throws InputError naming the path when there is none,
// or when the manifest or the tokenizer cannot be read. Tensor CRCs are checked as they are loaded.
TrainedCheckpoint open_checkpoint(const std::string& path);

// The checkpoint's model with its weights loaded, for forward passes of micro_batch rows in the
// given device and compute precision (fp32 master). tp: this rank's tensor-parallel group (any tp
// that divides the model, whatever layout wrote the checkpoint; a group of one for none). It must
// outlive the model.
std::unique_ptr<model::Gpt2Model> load_model(const TrainedCheckpoint& c, int micro_batch, kernels::Device device,
                                             kernels::DType compute, parallel::Comm& tp);

}  // namespace inference
