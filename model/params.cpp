// model/params.cpp
// The arena that owns master, compute, gradient and moment buffers, and its layout.
#include "model/params.h"

#include <cmath>

#include "kernels/rng.h"

namespace model {

std::vector<int64_t> arena_offsets(const std::vector<ParamSpec>& specs, int tp, int64_t length_multiple) {
  std::vector<int64_t> offsets;
  int64_t total = 0;
  for (const ParamSpec& p : specs) {
    offsets.push_back(total);
    total += local_shape(p, tp).numel();
    // Keep every parameter 64-element aligned so vector kernels and DMA see aligned starts, except
    // inside a packed group (whose first member is aligned).
    if (!p.packed_with_next) total = (total + 63) / 64 * 64;
  }
  offsets.push_back((total + length_multiple - 1) / length_multiple * length_multiple);
  return offsets;
}

ParamArena::ParamArena(std::vector<ParamSpec> specs, Device device, DType master_dtype, DType compute_dtype, int tp,
                       int tp_rank, int64_t length_multiple, bool moments)
    : specs_(std::move(specs)), device_(device), master_dtype_(master_dtype), compute_dtype_(compute_dtype), tp_(tp),
      tp_rank_(tp_rank) {
  offsets_ = arena_offsets(specs_, tp_, length_multiple);
  total_ = offsets_.back();
  offsets_.pop_back();
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

Tensor ParamArena::get(int i, ArenaView view) const {
  switch (view) {
    case ArenaView::kGrad: return grad(i);
    case ArenaView::kMaster: return master(i);
    case ArenaView::kCompute: break;
  }
  return compute(i);
}

Tensor ParamArena::packed_rows(int first, int count, ArenaView view) const {
  Tensor t = get(first, view);
  int64_t rows = t.dim(0);
  for (int i = first + 1; i < first + count; ++i) {
    const Tensor next = get(i, view);
    KILN_CHECK(specs_[size_t(i - 1)].packed_with_next && next.shape.ndim == 2 && next.dim(1) == t.dim(1) &&
                   offsets_[size_t(i)] == offsets_[size_t(i - 1)] + get(i - 1, view).numel(),
               "packed_rows: " + specs_[size_t(i)].name + " does not follow " + specs_[size_t(i - 1)].name +
                   " as rows of one matrix");
    rows += next.dim(0);
  }
  t.shape = Shape{rows, t.dim(1)};
  return t;
}

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
      kernels::copy_from_host(dst.data, device_, cast_host.t.data, dst.nbytes());
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
