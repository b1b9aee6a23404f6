// model/memory_estimate.cpp
// estimate_model_memory() and require_memory() (model/memory_estimate.h).
//
// B micro-batch, T seq_len, C d_model, F d_ff, V vocab_size (padded), NH n_head, L n_layer, tp the
// tensor-parallel degree; Cl, Fl = F/tp, Vl = V/tp, NHl = NH/tp (KVl = n_kv_head/tp, Llama) as in
// gpt2.cpp and llama.cpp.
#include "model/memory_estimate.h"

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <vector>

#include "kernels/check.h"
#include "parallel/tp_split.h"
#include "model/model.h"
#include "model/params.h"

namespace model {
namespace {

using I128 = __int128;
constexpr I128 kInt64Max = std::numeric_limits<int64_t>::max();

int64_t clamp64(I128 v) { return v > kInt64Max ? std::numeric_limits<int64_t>::max() : int64_t(v); }
I128 round64(I128 bytes) { return (bytes + 63) / 64 * 64; }  // what device_alloc really takes on the host

std::string to_string128(I128 v) {
  if (v == 0) return "0";
  std::string s;
  for (; v > 0; v /= 10) s.insert(s.begin(), char('0' + int(v % 10)));
  return s;
}

// Products of named config values; the first one past int64 is remembered with its names.
struct Sizes {
  std::string overflow;
  struct Factor {
    const char* key;  // "model.d_model", or a literal such as "3"
    I128 value;
  };
  I128 product(std::initializer_list<Factor> fs, const char* what) {
    I128 p = 1;
    for (const Factor& f : fs) p *= f.value;  // each factor < 2^32, at most 4 of them: fits 128 bits
    if (p > kInt64Max && overflow.empty()) {
      for (const Factor& f : fs) overflow += (overflow.empty() ? "" : " x ") + std::string(f.key);
      overflow += " = " + to_string128(p) + " elements (" + what + ")";
    }
    return p;
  }
};

// Elements of this rank's parameter arena for a model of `layers` layers: the arena's own layout
// (params.cpp: alignment, packed groups) over the architecture's parameter list.
I128 arena_elements(configs::ModelConfig m, int layers, int tp) {
  m.n_layer = layers;
  return arena_offsets(param_specs(m, m.vocab_size), tp).back();
}

// The activations of Gpt2Model::alloc_activations (gpt2.cpp) and LlamaModel::alloc_activations
// (llama.cpp), buffer by buffer, plus the LossHead's (loss_head.cpp) both share.
struct Activations {
  I128 per_layer = 0, global = 0;
};

Activations activation_bytes(const configs::ModelConfig& m, I128 B, I128 tp, I128 act, I128 stat) {
  const I128 T = m.seq_len, C = m.d_model, F = m.d_ff, V = m.vocab_size;
  const I128 BT = B * T, Fl = F / tp, Vl = V / tp;
  const auto buf = [](I128 elems, I128 size) { return round64(elems * size); };
  const I128 loss_head = buf(2 * BT, 4)                    // tokens and targets (int32), one upload
                         + buf(BT * Vl, act)                // logits
                         + 2 * buf(BT, stat)                // losses, xent_max
                         + buf(2 * BT, stat);               // xent_stats2
  Activations a;
  if (m.is_llama()) {
    const I128 hs = m.head_dim(), NHl = m.n_head / tp, KVl = m.kv_heads() / tp;
    const I128 Wl = (NHl + 2 * KVl) * hs, Cl = NHl * hs;
    // x_in (layer 0's is `encoded`, counted below in its place), ln1, attproj, x_mid, ln2, mlp_out
    a.per_layer = 6 * buf(BT * C, act)
                  + 2 * buf(BT, stat)                       // ln1_rstd, ln2_rstd
                  + buf(BT * Wl, act)                       // qkv (GQA: n_kv_head heads of k and v)
                  + buf(BT * Cl, act)                       // atty
                  + buf(B * NHl * T, stat)                  // att_lse
                  + buf(BT * 2 * Fl, act) + buf(BT * Fl, act);  // gate_up, act (SwiGLU)
    a.global = loss_head
               + buf(BT * C, act)                           // x_out (layer 0's x_in is encoded: one each)
               + buf(BT * C, act) + buf(BT, stat)           // lnf, lnf_rstd
               + 2 * buf(BT * C, act)                       // dresidual, dC
               + buf(BT * Cl, act) + buf(BT * Wl, act)      // datt, dqkv
               + buf(BT * Fl, act) + buf(BT * 2 * Fl, act); // dact, dgate_up
    return a;
  }
  const I128 NH = m.n_head, Cl = C / tp, NHl = NH / tp;
  a.per_layer = 6 * buf(BT * C, act)              // ln1, attproj, residual2, ln2, fcproj, residual3
                + 4 * buf(BT, stat)               // ln1_mean, ln1_rstd, ln2_mean, ln2_rstd
                + buf(BT * 3 * Cl, act)           // qkv
                + buf(BT * Cl, act)               // atty
                + buf(B * NHl * T, stat)          // att_lse
                + 2 * buf(BT * Fl, act);          // fch, fch_gelu
  a.global = loss_head
             + buf(BT * C, act)                   // encoded
             + buf(BT * C, act) + 2 * buf(BT, stat)  // lnf, lnf_mean, lnf_rstd
             + 2 * buf(BT * C, act)               // dresidual, dC
             + buf(BT * Cl, act) + buf(BT * 3 * Cl, act) + 2 * buf(BT * Fl, act);  // datt, dqkv, dF1, dF2
  return a;
}

}  // namespace

MemoryEstimate estimate_model_memory(const MemoryShape& s) {
  MemoryEstimate e;
  const configs::ModelConfig& m = s.model;
  const I128 B = s.micro_batch, T = m.seq_len, C = m.d_model, F = m.d_ff, V = m.vocab_size, NH = m.n_head,
             L = m.n_layer, tp = s.tp > 0 ? s.tp : 1;
  Sizes z;
  // The largest single tensors first: if one of them cannot be indexed by int64, nothing below
  // (Shape::numel included) may be evaluated.
  if (m.is_llama()) {  // q|k|v and gate|up are at most 3 C and 2 F wide; no learned positions
    z.product({{"model.vocab_size", V}, {"model.d_model", C}}, "embed_tokens");
    z.product({{"model.d_ff", F}, {"model.d_model", C}}, "mlp.gate_proj.weight");
    z.product({{"model.d_model", C}, {"model.d_model", C}}, "self_attn.q_proj.weight");
    z.product({{"train.micro_batch", B}, {"model.seq_len", T}, {"model.vocab_size", V}}, "logits");
    z.product({{"train.micro_batch", B}, {"model.seq_len", T}, {"3", 3}, {"model.d_model", C}}, "qkv activations");
    z.product({{"train.micro_batch", B}, {"model.seq_len", T}, {"2", 2}, {"model.d_ff", F}}, "SwiGLU activations");
  } else {
    z.product({{"model.vocab_size", V}, {"model.d_model", C}}, "wte");
    z.product({{"model.seq_len", T}, {"model.d_model", C}}, "wpe");
    z.product({{"3", 3}, {"model.d_model", C}, {"model.d_model", C}}, "attn.c_attn.weight");
    z.product({{"model.d_ff", F}, {"model.d_model", C}}, "mlp.c_fc.weight");
    z.product({{"train.micro_batch", B}, {"model.seq_len", T}, {"model.vocab_size", V}}, "logits");
    z.product({{"train.micro_batch", B}, {"model.seq_len", T}, {"3", 3}, {"model.d_model", C}}, "qkv activations");
    z.product({{"train.micro_batch", B}, {"model.seq_len", T}, {"model.d_ff", F}}, "MLP activations");
  }
  z.product({{"train.micro_batch", B}, {"model.n_head", NH}, {"model.seq_len", T}}, "attention statistics");
  if (!z.overflow.empty()) {
    e.overflow = z.overflow;
    e.total = std::numeric_limits<int64_t>::max();
    return e;
  }

  // Parameters: the arena grows by the same amount per layer, so two small arenas give the exact
  // size of any depth without listing 12 x n_layer specs.
  const I128 one = arena_elements(m, 1, int(tp)), two = arena_elements(m, 2, int(tp));
  I128 n = one + (L - 1) * (two - one);
  const I128 multiple = s.zero_dp > 0 ? s.zero_dp : 1;
  n = (n + multiple - 1) / multiple * multiple;
  const I128 msz = kernels::dtype_size(s.master), csz = kernels::dtype_size(s.compute);
  const bool separate = s.compute != s.master;
  const I128 master = round64(n * msz), compute = separate ? round64(n * csz) : 0, grads = round64(n * msz);
  const I128 moments = s.zero_dp > 0 ? 0 : 2 * round64(n * 4);
  I128 zero_shard = 0;
  const I128 own = s.zero_dp > 0 ? n / s.zero_dp : 0;
  if (s.zero_dp > 0) zero_shard = round64(own * 4 * (separate ? 4 : 3));  // grad, m, v (+ master)

  // Activations: the model's alloc_activations, buffer by buffer.
  const Activations acts =
      activation_bytes(m, B, tp, csz, s.compute == kernels::DType::F64 ? 8 : 4);
  const I128 per_layer = acts.per_layer;
  const I128 activations = L * per_layer + acts.global;

  // Checkpoint staging (snapshot.cpp): the compute copy when separate, the master (or this rank's
  // ZeRO block of it) and the AdamW moments (or their block), copied into one host buffer.
  I128 staging = 0;
  if (s.checkpoint_staging) {
    staging = (separate ? n * csz : 0) + (s.zero_dp > 0 ? (separate ? own : n) * 4 + 2 * own * 4 : 3 * n * 4);
  }

  e.parameters = clamp64(n);
  e.master = clamp64(master);
  e.compute = clamp64(compute);
  e.grads = clamp64(grads);
  e.moments = clamp64(moments);
  e.zero_shard = clamp64(zero_shard);
  e.activations = clamp64(activations);
  e.activations_per_layer = clamp64(per_layer);
  e.staging = clamp64(staging);
  const I128 on_device = master + compute + grads + moments + zero_shard + activations +
                         (s.device == kernels::Device::kCpu ? staging : 0);
  e.total = clamp64(on_device);
  if (on_device > kInt64Max)
    e.overflow = "the total (" + to_string128(on_device) + " bytes, model.n_layer = " + std::to_string(m.n_layer) +
                 " layers)";
  return e;
}

std::string human_bytes(double b) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (b >= 1024 && u < 6) {
    b /= 1024;
    ++u;
  }
  char out[64];
  std::snprintf(out, sizeof out, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return out;
}

void require_memory(const MemoryShape& s, const std::string& who) {
  const configs::ModelConfig& m = s.model;
  // Every key the size depends on, with its value, so the user sees what to change.
  std::string keys = "model.n_layer=" + std::to_string(m.n_layer) + " model.d_model=" + std::to_string(m.d_model) +
                     " model.d_ff=" + std::to_string(m.d_ff) + " model.n_head=" + std::to_string(m.n_head) +
                     " model.seq_len=" + std::to_string(m.seq_len) + " model.vocab_size=" +
                     std::to_string(m.vocab_size) + " train.micro_batch=" + std::to_string(s.micro_batch);
  if (m.is_llama()) keys += " model.n_kv_head=" + std::to_string(m.kv_heads());
  if (s.tp > 1) keys += " parallel.tp=" + std::to_string(s.tp);
  const MemoryEstimate e = estimate_model_memory(s);
  if (!e.overflow.empty())
    throw kernels::InputError(who + " too large (" + keys + "): " + e.overflow + ", more than a 64-bit size can hold");
  const kernels::AvailableMemory avail = kernels::available_memory(s.device);
  if (avail.bytes == 0 || uint64_t(e.total) <= avail.bytes) return;
  std::string parts = "weights, gradients and AdamW " +
                      human_bytes(double(e.master) + double(e.compute) + double(e.grads) + double(e.moments) +
                                  double(e.zero_shard)) +
                      ", activations " + human_bytes(double(e.activations)) + " (" +
                      human_bytes(double(e.activations_per_layer)) + " per layer)";
  if (s.device == kernels::Device::kCpu && e.staging > 0) parts += ", checkpoint staging " + human_bytes(double(e.staging));
  throw kernels::InputError(who + " does not fit in memory (" + keys + "): needs " + std::to_string(e.total) +
                            " bytes (" + human_bytes(double(e.total)) + ") per rank, " + std::to_string(avail.bytes) +
                            " bytes (" + human_bytes(double(avail.bytes)) + ") available on the " +
                            kernels::device_name(s.device) + " (" + avail.source + "); " + parts);
}

}  // namespace model
