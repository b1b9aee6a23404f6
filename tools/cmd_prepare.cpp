// tools/cmd_prepare.cpp
// `kiln prepare --input PATH... --out DIR`: text files and folders -> tokenized HDF5 shards.
#include <cstdio>
#include <memory>

#include "data/prepare.h"
#include "tools/commands.h"

namespace tools {

void add_prepare_command(CLI::App& app) {
  auto opt = std::make_shared<data::PrepareOptions>();
  CLI::App* cmd = app.add_subcommand("prepare", "Tokenize text files into HDF5 token shards for training and validation.");
  cmd->add_option("--input", opt->inputs, "text files or folders of them (each file is one document, byte for byte)")
      ->required();
  cmd->add_option("--out", opt->out_dir, "output folder for train_*.h5, val_*.h5 and tokenizer/")->required();
  cmd->add_option("--tokenizer", opt->tokenizer, "tokenizer: byte (vocab 256)")->capture_default_str();
  cmd->add_option("--val-fraction", opt->val_fraction, "fraction of documents held out for validation, in [0, 1)")
      ->capture_default_str();
  cmd->add_option("--shard-tokens", opt->shard_tokens, "maximum tokens per shard file")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of the train/val document split")->capture_default_str();
  cmd->callback([opt] {
    const data::PrepareSummary s = data::prepare(*opt);
    std::printf("kiln prepare | %s | train: %lld docs, %lld tokens, %d shards | val: %lld docs, %lld tokens, %d shards\n",
                opt->out_dir.c_str(), (long long)s.train_docs, (long long)s.train_tokens, s.train_shards,
                (long long)s.val_docs, (long long)s.val_tokens, s.val_shards);
  });
}

}  // namespace tools
