// configs/config.h
// The experiment config (CONTRACTS §2): one struct per YAML section, each listing its fields once
// in visit(). Loading, printing, dotted overrides and equality all walk that list, so a new key is
// one line here and nowhere else.
//
// Defaults are the contract's defaults (a GPT-2 124M run). Validation of values and of relations
// between sections lives in configs/validate.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace configs {

struct RunConfig {
  std::string name = "gpt2-124m";
  std::string out_dir = "runs";
  int64_t seed = 1337;
  template <class V> void visit(V& v) { v("name", name); v("out_dir", out_dir); v("seed", seed); }
};

struct ModelConfig {
  std::string arch = "gpt2";  // gpt2 | llama
  int vocab_size = 50304;  // padded vocabulary; >= the shards' vocab_size
  int seq_len = 1024;
  int n_layer = 12;
  int n_head = 12;
  int d_model = 768;
  int d_ff = 3072;         // MLP hidden units (gpt2: the GELU layer; llama: the SwiGLU gate and up)
  // Keys whose default depends on the architecture, and keys only llama has. They stay unset until
  // resolve_defaults() (configs/validate.h, run whenever a config is loaded) writes the defaults of
  // the keys the architecture uses; a key the architecture does not use must stay unset (validate
  // refuses it). Code reads them through the accessors below, which apply the same defaults, so a
  // config built in code (tests) behaves like a loaded one.
  std::optional<bool> tie_embeddings;  // gpt2: true; llama: false
  std::optional<int> n_kv_head;        // llama: key/value heads of grouped-query attention; n_head
  std::optional<double> rope_theta;    // llama: RoPE base; 10000
  std::optional<double> norm_eps;      // llama: RMSNorm epsilon; 1e-5
  template <class V> void visit(V& v) {
    v("arch", arch);       v("vocab_size", vocab_size); v("seq_len", seq_len);
    v("n_layer", n_layer); v("n_head", n_head);         v("d_model", d_model);
    v("d_ff", d_ff);       v("tie_embeddings", tie_embeddings);
    v("n_kv_head", n_kv_head); v("rope_theta", rope_theta); v("norm_eps", norm_eps);
  }

  bool is_llama() const { return arch == "llama"; }
  bool tied() const { return tie_embeddings.value_or(!is_llama()); }
  int kv_heads() const { return n_kv_head.value_or(n_head); }  // gpt2: n_head (plain multi-head)
  double rope_base() const { return rope_theta.value_or(10000.0); }
  double rms_eps() const { return norm_eps.value_or(1e-5); }
  int head_dim() const { return n_head > 0 ? d_model / n_head : 0; }
};

struct DataConfig {
  std::string train = "data/x/train_*.h5";
  std::string val = "data/x/val_*.h5";
  template <class V> void visit(V& v) { v("train", train); v("val", val); }
};

struct TrainConfig {
  std::string device = "auto";     // auto | cpu | cuda | cudasim (CUDA kernels on the CPU simulator)
  std::string precision = "auto";  // auto (bf16 on a GPU, fp32 on the CPU) | fp32 | bf16 | fp16
  int micro_batch = 16;            // sequences per forward/backward on one rank
  int global_batch = 512;          // sequences per optimizer step, all ranks together
  int max_steps = 5000;
  int log_every = 10;
  // Numeric guards (trainer/guards.h): a step whose loss or gradients are not finite is skipped;
  // this many such (or spike-skipped) steps in a row stop the run with exit 4 (0: never stop).
  int max_skipped_steps = 10;
  // Skip a step whose loss is more than this many standard deviations above the mean of the last
  // loss_spike_window losses (0: off).
  double loss_spike_zscore = 0;
  int loss_spike_window = 128;
  // Every N steps, recompute the first micro-batch and require the same loss and gradient norm,
  // bit for bit (trainer/replay_check.h; 0: off).
  int replay_check_every = 0;
  template <class V> void visit(V& v) {
    v("device", device);           v("precision", precision);
    v("micro_batch", micro_batch); v("global_batch", global_batch);
    v("max_steps", max_steps);     v("log_every", log_every);
    v("max_skipped_steps", max_skipped_steps);
    v("loss_spike_zscore", loss_spike_zscore); v("loss_spike_window", loss_spike_window);
    v("replay_check_every", replay_check_every);
  }
};

struct OptimConfig {
  double lr = 6.0e-4;
  double min_lr = 6.0e-5;
  int warmup_steps = 700;
  std::string schedule = "cosine";  // cosine | linear | constant
  double beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8;
  double weight_decay = 0.1;
  double grad_clip = 1.0;           // 0 disables clipping
  template <class V> void visit(V& v) {
    v("lr", lr);       v("min_lr", min_lr);  v("warmup_steps", warmup_steps);
    v("schedule", schedule);
    v("beta1", beta1); v("beta2", beta2);    v("eps", eps);
    v("weight_decay", weight_decay);         v("grad_clip", grad_clip);
  }
};

struct ParallelConfig {
  int tp = 1;
  int zero = 0;
  // Collective watchdog (parallel/watchdog.h): a collective that does not complete within this
  // many seconds ends every rank with a report, exit 5 (0: wait forever).
  double timeout_s = 600;
  template <class V> void visit(V& v) { v("tp", tp); v("zero", zero); v("timeout_s", timeout_s); }
};

struct EvalConfig {
  int every = 250;   // 0 disables periodic evaluation (a final one still runs)
  int batches = 20;  // micro-batches per evaluation
  template <class V> void visit(V& v) { v("every", every); v("batches", batches); }
};

struct CheckpointConfig {
  int every = 1000;
  int keep_last = 3;
  std::string resume = "auto";  // auto | none | PATH
  template <class V> void visit(V& v) { v("every", every); v("keep_last", keep_last); v("resume", resume); }
};

struct Config {
  RunConfig run;
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  OptimConfig optim;
  ParallelConfig parallel;
  EvalConfig eval;
  CheckpointConfig checkpoint;
  template <class V> void visit(V& v) {
    v("run", run);           v("model", model);       v("data", data);
    v("train", train);       v("optim", optim);       v("parallel", parallel);
    v("eval", eval);         v("checkpoint", checkpoint);
  }
};

}  // namespace configs
