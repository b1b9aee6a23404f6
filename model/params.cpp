// model/params.cpp
// GPT-2 parameter list and the arena that owns master, compute, gradient and moment buffers.
#include "model/params.h"

#include <cmath>

#include "kernels/rng.h"

namespace model {

std::vector<ParamSpec> gpt2_param_specs(const configs::ModelConfig& m, int vocab_real) {
  const int64_t C = m.d_model, V = m.vocab_size, F = m.d_ff, L = m.n_layer;
  const float kStd = 0.02f;
  // GPT-2 scales the projections that write into the residual stream by 1/sqrt(2L): each layer
  // adds two of them, and without it the residual variance grows with depth.
  const float kResidualStd = kStd / std::sqrt(2.0f * float(L));
  std::vector<ParamSpec> s;
  auto add = [&](std::string name, Shape shape, Init init, float std, bool decay, Split split, int padded = -1) {
    s.push_back({std::move(name), shape, init, std, decay, padded, split});
  };
  using enum Split;
  add("wte", {V, C}, Init::kNormal, kStd, true, kRows, vocab_real);  // vocab-parallel embedding
  add("wpe", {m.seq_len, C}, Init::kNormal, kStd, true, kReplicated);
  for (int64_t l = 0; l < L; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", {C}, Init::kOnes, 0, false, kReplicated);
    add(h + "ln_1.bias", {C}, Init::kZeros, 0, false, kReplicated);
    add(h + "attn.c_attn.weight", {3 * C, C}, Init::kNormal, kStd, true, kQkvRows);     // column-parallel
    add(h + "attn.c_attn.bias", {3 * C}, Init::kZeros, 0, false, kQkvRows);
    add(h + "attn.c_proj.weight", {C, C}, Init::kNormal, kResidualStd, true, kCols);    // row-parallel
    add(h + "attn.c_proj.bias", {C}, Init::kZeros, 0, false, kReplicated);
    add(h + "ln_2.weight", {C}, Init::kOnes, 0, false, kReplicated);
    add(h + "ln_2.bias", {C}, Init::kZeros, 0, false, kReplicated);
    add(h + "mlp.c_fc.weight", {F, C}, Init::kNormal, kStd, true, kRows);               // column-parallel
    add(h + "mlp.c_fc.bias", {F}, Init::kZeros, 0, false, kRows);
    add(h + "mlp.c_proj.weight", {C, F}, Init::kNormal, kResidualStd, true, kCols);     // row-parallel
    add(h + "mlp.c_proj.bias", {C}, Init::kZeros, 0, false, kReplicated);
  }
  add("ln_f.weight", {C}, Init::kOnes, 0, false, kReplicated);
  add("ln_f.bias", {C}, Init::kZeros, 0, false, kReplicated);
  if (!m.tie_embeddings) add("lm_head.weight", {V, C}, Init::kNormal, kStd, true, kRows, vocab_real);
  return s;
}

ParamArena::ParamArena(std::vector<ParamSpec> specs, Device device, DType master_dtype, DType compute_dtype, int tp,
                       int tp_rank, int64_t length_multiple, bool moments)
    : specs_(std::move(specs)), device_(device), master_dtype_(master_dtype), compute_dtype_(compute_dtype), tp_(tp),
      tp_rank_(tp_rank) {
  for (const ParamSpec& p : specs_) {
    offsets_.push_back(total_);
    // Keep every parameter 64-element aligned so vector kernels and DMA see aligned starts.
    total_ += (local_shape(p, tp_).numel() + 63) / 64 * 64;
  }
  total_ = (total_ + length_multiple - 1) / length_multiple * length_multiple;
  const size_t n = size_t(total_);
  master_ = kernels::Buffer(device, n * kernels::dtype_size(master_dtype));
  if (compute_dtype != master_dtype) compute_ = kernels::Buffer(device, n * kernels::dtype_size(compute_dtype));
  grad_ = kernels::Buffer(device, n * kernels::dtype_size(master_dtype));
  if (moments) {
    m_ = kernels::Buffer(device, n * sizeof(float));
    v_ = kernels::Buffer(device, n * sizeof(float));
  }
  // The alignment gaps between parameters are never written by anyone: zero everything once so
  // flat passes over a whole buffer (casts, norms) only ever see finite values.
  for (kernels::Buffer* b : {&master_, &compute_, &grad_, &m_, &v_})
    if (b->bytes()) kernels::device_memset_zero(b->data(), device, b->bytes(), {});
}

int ParamArena::index_of(const std::string& name) const {
  for (int i = 0; i < size(); ++i)
    if (specs_[size_t(i)].name == name) return i;
  kernels::fail("index_of", "no parameter named '" + name + "'", __FILE__, __LINE__);
}

bool ParamArena::has(const std::string& name) const {
  for (const ParamSpec& p : specs_)
    if (p.name == name) return true;
  return false;
}

Tensor ParamArena::at(const kernels::Buffer& b, DType dt, int i) const {
  return b.view(dt, local_shape(specs_[size_t(i)], tp_), size_t(offsets_[size_t(i)]) * kernels::dtype_size(dt));
}

int64_t ParamArena::global_parameter_count() const {
  int64_t n = 0;
  for (const ParamSpec& p : specs_) n += p.shape.numel();
  return n;
}

Tensor ParamArena::master(int i) const { return at(master_, master_dtype_, i); }
Tensor ParamArena::compute(int i) const {
  return compute_dtype_ == master_dtype_ ? master(i) : at(compute_, compute_dtype_, i);
}
Tensor ParamArena::grad(int i) const { return at(grad_, master_dtype_, i); }
Tensor ParamArena::m(int i) const { return at(m_, DType::F32, i); }
Tensor ParamArena::v(int i) const { return at(v_, DType::F32, i); }

Tensor ParamArena::all_master() const { return master_.view(master_dtype_, {total_}); }
Tensor ParamArena::all_compute() const {
  return compute_dtype_ == master_dtype_ ? all_master() : compute_.view(compute_dtype_, {total_});
}
Tensor ParamArena::all_grads() const { return grad_.view(master_dtype_, {total_}); }
Tensor ParamArena::all_m() const { return m_.view(DType::F32, {total_}); }
Tensor ParamArena::all_v() const { return v_.view(DType::F32, {total_}); }

void ParamArena::init(uint64_t seed, const kernels::Ops& ops) {
  // Values are produced on the host in double, then cast once into the master buffer (on any device).
  // Each local element is drawn at its GLOBAL index, so every tp layout gets the same weights.
  std::vector<double> host;
  for (int p = 0; p < size(); ++p) {
    const ParamSpec& s = specs_[size_t(p)];
    const Shape shape = local_shape(s, tp_);
    const int64_t n = shape.numel();
    host.assign(size_t(n), 0.0);
    const uint64_t key = kernels::mix(seed, kernels::Purpose::kInit, uint64_t(p));
    const int64_t global_row_len = s.shape.ndim > 1 ? s.shape.numel() / s.shape[0] : 1;
    const int64_t live = s.padded_rows_from >= 0 ? int64_t(s.padded_rows_from) * global_row_len : s.shape.numel();
    for (int64_t e = 0; e < n; ++e) {
      const int64_t g = global_index(s, tp_, tp_rank_, e);
      if (g >= live) continue;  // vocab padding rows stay zero
      switch (s.init) {
        case Init::kNormal: host[size_t(e)] = double(s.std) * kernels::normal(key, uint64_t(g)); break;
        case Init::kOnes: host[size_t(e)] = 1.0; break;
        case Init::kZeros: break;
      }
    }
    kernels::OwnedTensor staged(Device::kCpu, DType::F64, shape);
    std::copy(host.begin(), host.end(), staged.t.as<double>());
    const Tensor dst = master(p);
    if (device_ == Device::kCpu) {
      kernels::ops_for(Device::kCpu).cast(dst, staged.t, kernels::Stream::host());
    } else {
      kernels::OwnedTensor cast_host(Device::kCpu, master_dtype_, shape);
      kernels::ops_for(Device::kCpu).cast(cast_host.t, staged.t, kernels::Stream::host());
      kernels::device_copy(dst.data, device_, cast_host.t.data, Device::kCpu, dst.nbytes());
    }
  }
  sync_compute(ops);
  zero_grads(ops);
  zero_moments(ops);
}

void ParamArena::zero_grads(const kernels::Ops& ops) { ops.zero(all_grads(), {}); }
void ParamArena::zero_moments(const kernels::Ops& ops) {
  if (!m_.data()) return;
  ops.zero(m_.view(DType::F32, {total_}), {});
  ops.zero(v_.view(DType::F32, {total_}), {});
}

void ParamArena::release_master() {
  KILN_CHECK(compute_dtype_ != master_dtype_, "release_master: the master is the compute copy");
  master_ = kernels::Buffer();
}
void ParamArena::sync_compute(const kernels::Ops& ops) {
  if (compute_dtype_ != master_dtype_) ops.cast(all_compute(), all_master(), {});
}

}  // namespace model
