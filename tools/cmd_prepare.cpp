// tools/cmd_prepare.cpp
// `kiln prepare --input PATH... --out DIR`: text files, folders, JSONL or stdin -> tokenized HDF5
// shards (data/prepare.h does the work). The summary goes to stdout, the live progress line to
// stderr, so `kiln prepare ... | tail -1` still sees just the summary.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "data/prepare.h"
#include "tools/commands.h"

namespace tools {

void add_prepare_command(CLI::App& app) {
  auto opt = std::make_shared<data::PrepareOptions>();
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("prepare", "Tokenize text files into HDF5 token shards for training and validation.");
  cmd->add_option("--input", opt->inputs,
                  "text files (each one document, byte for byte), folders of them, *.jsonl files (one document "
                  "per line), or - for standard input")
      ->required();
  cmd->add_option("--out", opt->out_dir, "output folder for train_*.h5, val_*.h5 and tokenizer/")->required();
  cmd->add_option("--tokenizer", opt->tokenizer,
                  "byte (vocab 256), gpt2 (GPT-2 BPE from $KILN_CACHE/tokenizers/gpt2, else "
                  "~/.cache/kiln/tokenizers/gpt2; scripts/setup.sh fetches it), or a folder holding "
                  "encoder.json + vocab.bpe (or a tokenizer/ folder written by prepare)")
      ->capture_default_str();
  CLI::Option* key = cmd->add_option("--jsonl-key", opt->jsonl_key,
                                     "JSONL field holding the text; given, it also makes --input - read JSONL")
                         ->capture_default_str();
  cmd->add_option("--val-fraction", opt->val_fraction, "fraction of documents held out for validation, in [0, 1)")
      ->capture_default_str();
  cmd->add_option("--shard-tokens", opt->shard_tokens, "maximum tokens per shard file")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of the train/val document split")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "tokenizer threads, 0..256 (0 = every core)")->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "no progress line on stderr");
  cmd->callback([opt, quiet, key] {
    opt->stdin_jsonl = key->count() > 0;
    // On a terminal the line redraws in place; in a log, one line every 10 s is plenty.
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    opt->progress_interval_s = tty ? 0.5 : 10.0;
    if (!*quiet) {
      opt->progress = [tty](const data::PrepareStatus& s) {
        std::fprintf(stderr, tty ? "\r%s\033[K%s" : "%s%s", s.line().c_str(), (s.final || !tty) ? "\n" : "");
        std::fflush(stderr);
      };
    }
    const data::PrepareSummary s = data::prepare(*opt);
    std::printf("kiln prepare | %s | train: %lld docs, %lld tokens, %d shards | val: %lld docs, %lld tokens, %d shards",
                opt->out_dir.c_str(), (long long)s.train_docs, (long long)s.train_tokens, s.train_shards,
                (long long)s.val_docs, (long long)s.val_tokens, s.val_shards);
    if (s.empty_docs > 0) std::printf(" | %lld empty documents skipped", (long long)s.empty_docs);
    std::printf("\n");
  });
}

}  // namespace tools
