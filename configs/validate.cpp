// configs/validate.cpp
// Value and cross-key checks for the experiment config (declared in configs/validate.h). Types
// were already enforced while reading (load.cpp); here are the ranges, the enumerations and the
// divisibility rules that other folders assume without re-checking: the model splits heads by
// n_head, tensor parallelism splits heads, d_ff and the vocabulary by tp, and the trainer runs a
// whole number of micro-batches per step.
//
// Problems are collected rather than thrown one at a time, so a user fixing a new config sees
// all of them in one run instead of one per attempt.
#include "configs/validate.h"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

#include "configs/fields.h"
#include "kernels/check.h"

namespace configs {
namespace {

using detail::format_field;
using detail::single_quoted;

// Collects "key: expected ..., got ..." lines; one method per kind of rule.
class Problems {
 public:
  void at_least(const char* key, int64_t v, int64_t min) {
    if (v < min) add(key, "an integer >= " + std::to_string(min), std::to_string(v));
  }
  void at_least(const char* key, double v, double min) {
    if (!(v >= min)) add(key, "a number >= " + format_field(min), format_field(v));
  }
  void above(const char* key, double v, double min) {
    if (!(v > min)) add(key, "a number > " + format_field(min), format_field(v));
  }
  // [0, 1): Adam's betas; 1 would never forget a gradient, and the bias correction divides by 0.
  void unit_interval(const char* key, double v) {
    if (!(v >= 0.0 && v < 1.0)) add(key, "a number in [0, 1)", format_field(v));
  }
  void one_of(const char* key, const std::string& v, std::initializer_list<const char*> allowed) {
    std::string names;
    for (const char* a : allowed) {
      if (v == a) return;
      names += (names.empty() ? "" : ", ") + std::string(a);
    }
    add(key, "one of " + names, single_quoted(v));
  }
  void at_most(const char* key, int64_t v, int64_t max, const char* why) {
    if (v > max) add(key, "an integer <= " + std::to_string(max) + " (" + why + ")", std::to_string(v));
  }
  void non_empty(const char* key, const std::string& v, const char* what = "a non-empty string") {
    if (v.empty()) add(key, what, "''");
  }
  // A folder name with a newline or another control character is a typo (an unterminated quote),
  // not a name anyone means.
  void printable(const char* key, const std::string& v) {
    for (unsigned char ch : v)
      if (ch < 0x20 || ch == 0x7f) {
        add(key, "a name without control characters (newline, tab, ...)", single_quoted(v));
        return;
      }
  }
  // `v` must be a multiple of `of` (named `of_key`); skipped when either side is already reported
  // as non-positive, so a zero does not produce a second, confusing message.
  void multiple_of(const char* key, int64_t v, const char* of_key, int64_t of) {
    if (v > 0 && of > 0 && v % of != 0)
      add(key, std::string("a multiple of ") + of_key + " (" + std::to_string(of) + ")", std::to_string(v));
  }
  // The divisor form of the same rule, when the divisor is the key at fault (parallel.tp).
  void divides(const char* key, int64_t v, const char* into_key, int64_t into) {
    if (v > 0 && into > 0 && into % v != 0)
      add(key, std::string("a divisor of ") + into_key + " (" + std::to_string(into) + ")", std::to_string(v));
  }
  // A key only llama has, set in a config of another architecture: named with both architectures.
  template <class T> void only_for_llama(const char* key, const std::optional<T>& v, const std::string& arch) {
    if (v) add(key, std::string("no value: it is a model.arch llama key, and this config has model.arch ") + arch,
               format_field(*v));
  }
  void add(const char* key, const std::string& expected, const std::string& got) {
    list.push_back(std::string(key) + ": expected " + expected + ", got " + got);
  }

  std::vector<std::string> list;
};

}  // namespace

void resolve_defaults(Config& c) {
  ModelConfig& m = c.model;
  if (m.arch != "gpt2" && m.arch != "llama") return;  // unknown: validation says so
  m.tie_embeddings = m.tied();
  if (!m.is_llama()) return;
  m.n_kv_head = m.kv_heads();
  m.rope_theta = m.rope_base();
  m.norm_eps = m.rms_eps();
}

std::vector<std::string> validation_problems(const Config& c) {
  Problems p;

  p.non_empty("run.name", c.run.name);  // the run folder is out_dir/name (CONTRACTS §6)
  p.non_empty("run.out_dir", c.run.out_dir);
  p.printable("run.name", c.run.name);
  p.printable("run.out_dir", c.run.out_dir);

  const ModelConfig& m = c.model;
  p.one_of("model.arch", m.arch, {"gpt2", "llama"});
  p.at_least("model.vocab_size", int64_t{m.vocab_size}, 1);
  p.at_least("model.seq_len", int64_t{m.seq_len}, 1);
  // A training window is seq_len + 1 tokens, counted in int: the +1 must not wrap.
  p.at_most("model.seq_len", m.seq_len, std::numeric_limits<int>::max() - 1, "a window of seq_len + 1 tokens");
  p.at_least("model.n_layer", int64_t{m.n_layer}, 1);
  p.at_least("model.n_head", int64_t{m.n_head}, 1);
  p.at_least("model.d_model", int64_t{m.d_model}, 1);
  p.at_least("model.d_ff", int64_t{m.d_ff}, 1);
  p.multiple_of("model.d_model", m.d_model, "model.n_head", m.n_head);  // head_dim = d_model / n_head
  if (m.is_llama()) {
    // Grouped-query attention: each key/value head serves n_head / n_kv_head query heads.
    p.at_least("model.n_kv_head", int64_t{m.kv_heads()}, 1);
    p.divides("model.n_kv_head", m.kv_heads(), "model.n_head", m.n_head);
    p.above("model.rope_theta", m.rope_base(), 0.0);
    p.above("model.norm_eps", m.rms_eps(), 0.0);
    // RoPE turns channels in pairs (i, i + head_dim/2) inside every head.
    if (m.n_head > 0 && m.d_model > 0 && m.d_model % m.n_head == 0 && m.head_dim() % 2 != 0)
      p.add("model.d_model", "d_model / n_head (the head size) to be even for rotary embeddings, with model.n_head " +
                                 std::to_string(m.n_head),
            std::to_string(m.d_model));
  } else {
    p.only_for_llama("model.n_kv_head", m.n_kv_head, m.arch);
    p.only_for_llama("model.rope_theta", m.rope_theta, m.arch);
    p.only_for_llama("model.norm_eps", m.norm_eps, m.arch);
  }

  // Shard globs (CONTRACTS §2); an empty one would otherwise surface later as "pattern  matches no files".
  p.non_empty("data.train", c.data.train, "a glob of shard files such as data/x/train_*.h5");
  p.non_empty("data.val", c.data.val, "a glob of shard files such as data/x/val_*.h5");

  const TrainConfig& t = c.train;
  p.one_of("train.device", t.device, {"auto", "cpu", "cuda", "cudasim"});
  p.one_of("train.precision", t.precision, {"auto", "fp32", "bf16", "fp16"});
  p.at_least("train.micro_batch", int64_t{t.micro_batch}, 1);
  p.at_least("train.global_batch", int64_t{t.global_batch}, 1);
  p.at_least("train.max_steps", int64_t{t.max_steps}, 1);
  p.at_least("train.log_every", int64_t{t.log_every}, 1);
  p.at_least("train.max_skipped_steps", int64_t{t.max_skipped_steps}, 0);  // 0: never stop
  p.at_least("train.loss_spike_zscore", t.loss_spike_zscore, 0.0);         // 0: off
  p.at_least("train.loss_spike_window", int64_t{t.loss_spike_window}, 2);  // a std needs two losses
  p.at_least("train.replay_check_every", int64_t{t.replay_check_every}, 0);  // 0: off
  // The dp factor is checked later by accumulation_steps(); this catches the mistake early.
  p.multiple_of("train.global_batch", t.global_batch, "train.micro_batch", t.micro_batch);

  const OptimConfig& o = c.optim;
  p.at_least("optim.lr", o.lr, 0.0);
  p.at_least("optim.min_lr", o.min_lr, 0.0);
  if (o.min_lr > o.lr && o.lr >= 0.0)  // the schedule decays from lr down to min_lr
    p.add("optim.min_lr", "a number <= optim.lr (" + format_field(o.lr) + ")", format_field(o.min_lr));
  p.at_least("optim.warmup_steps", int64_t{o.warmup_steps}, 0);
  p.one_of("optim.schedule", o.schedule, {"cosine", "linear", "constant"});
  p.unit_interval("optim.beta1", o.beta1);
  p.unit_interval("optim.beta2", o.beta2);
  p.above("optim.eps", o.eps, 0.0);  // eps keeps AdamW's division finite
  p.at_least("optim.weight_decay", o.weight_decay, 0.0);
  p.at_least("optim.grad_clip", o.grad_clip, 0.0);  // 0 disables clipping

  const ParallelConfig& par = c.parallel;
  p.at_least("parallel.tp", int64_t{par.tp}, 1);
  if (par.zero != 0 && par.zero != 1) p.add("parallel.zero", "0 or 1", std::to_string(par.zero));
  p.at_least("parallel.timeout_s", par.timeout_s, 0.0);  // 0: no watchdog
  // Tensor parallelism gives each rank n_head/tp heads, d_ff/tp MLP columns and vocab_size/tp
  // vocabulary rows (parallel/tp_linear); an uneven split has no layout.
  p.divides("parallel.tp", par.tp, "model.n_head", m.n_head);
  p.divides("parallel.tp", par.tp, "model.d_ff", m.d_ff);
  p.divides("parallel.tp", par.tp, "model.vocab_size", m.vocab_size);
  if (m.is_llama()) p.divides("parallel.tp", par.tp, "model.n_kv_head", m.kv_heads());  // kv heads split too

  p.at_least("eval.every", int64_t{c.eval.every}, 0);  // 0: only the final evaluation
  p.at_least("eval.batches", int64_t{c.eval.batches}, 1);

  const CheckpointConfig& ck = c.checkpoint;
  p.at_least("checkpoint.every", int64_t{ck.every}, 0);  // 0: only the final checkpoint
  p.at_least("checkpoint.keep_last", int64_t{ck.keep_last}, 1);
  // auto | none | PATH: any non-empty text is a valid path here; whether it holds a verified
  // checkpoint is the checkpoint loader's question (it exits 2 when not, CONTRACTS §6).
  if (ck.resume.empty()) p.add("checkpoint.resume", "auto, none or a checkpoint path", "''");

  return p.list;
}

void validate(const Config& c) {
  const std::vector<std::string> problems = validation_problems(c);
  if (!problems.empty()) throw kernels::InputError("invalid config: " + detail::join(problems, "; "));
}

int accumulation_steps(const Config& c, int dp) {
  if (dp < 1)
    throw kernels::InputError("data-parallel size: expected an integer >= 1, got " + std::to_string(dp) +
                              " (dp = world size / parallel.tp)");
  const int64_t micro = c.train.micro_batch, global = c.train.global_batch;
  if (micro < 1)
    throw kernels::InputError("train.micro_batch: expected an integer >= 1, got " + std::to_string(micro));
  const int64_t per_pass = micro * dp;  // sequences all ranks process in one micro-step
  if (global < 1 || global % per_pass != 0)
    throw kernels::InputError(
        "train.global_batch: expected a multiple of train.micro_batch x dp (" + std::to_string(micro) +
        " x " + std::to_string(dp) + " = " + std::to_string(per_pass) + "), got " + std::to_string(global) +
        "; gradient accumulation must be a whole number of micro-batches");
  return static_cast<int>(global / per_pass);
}

}  // namespace configs
