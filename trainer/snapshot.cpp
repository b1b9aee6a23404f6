// trainer/snapshot.cpp
#include "trainer/snapshot.h"

#include <algorithm>
#include <cstring>

#include "parallel/grad_sync.h"

namespace trainer {

using checkpoint::Piece;
using parallel::flat_slice;

namespace {

Piece make_piece(const std::string& tensor, const ParamSpec& s, const ParamArena& P, Tensor t, int64_t local_begin) {
  Piece p;
  p.tensor = tensor + "/" + s.name;
  p.dtype = t.dtype;
  p.global_shape = s.shape;
  p.split = s.split;
  p.tp = P.tp();
  p.tp_rank = P.tp_rank();
  p.local_begin = local_begin;
  p.count = t.numel();
  p.data = t.data;
  return p;
}

// Adds a piece over tensor t (on the params' device); device data is staged through the host.
void add(PieceSet& set, Piece p, Tensor t, bool loading) {
  if (t.device != Device::kCpu) {
    set.staging.emplace_back(new char[t.nbytes()]);
    p.data = set.staging.back().get();
    if (loading) set.device_targets.emplace_back(set.pieces.size(), t);
    else kernels::device_copy(p.data, Device::kCpu, t.data, t.device, t.nbytes());
  }
  set.pieces.push_back(std::move(p));
}

// Visits every (tensor kind, parameter, local range, tensor view) this rank holds. `full` says
// whether the view is complete on every dp rank (true) or a ZeRO-1 block (false).
template <class Fn>
void for_each_held(const ParamArena& P, const AdamW& optim, Fn&& fn) {
  const bool separate = P.compute_dtype() != P.master_dtype();
  const bool zero = optim.zero1();
  const parallel::ShardRange own = optim.owned();
  for (int i = 0; i < P.size(); ++i) {
    const ParamSpec& s = P.spec(i);
    const int64_t n = P.grad(i).numel();
    if (separate) fn("param", i, s, int64_t(0), P.compute(i), true);
    if (!zero) {
      fn("master", i, s, int64_t(0), P.master(i), true);
      fn("adam_m", i, s, int64_t(0), P.m(i), true);
      fn("adam_v", i, s, int64_t(0), P.v(i), true);
      continue;
    }
    // The owned block intersected with this parameter, in the parameter's local coordinates.
    const int64_t b = std::max(own.begin, P.offset(i)), e = std::min(own.begin + own.count, P.offset(i) + n);
    if (separate) {
      if (b < e) fn("master", i, s, b - P.offset(i), flat_slice(optim.shard_master(), b - own.begin, e - b), false);
    } else {
      fn("master", i, s, int64_t(0), P.master(i), true);  // the fp32 compute copy is the master
    }
    if (b < e) {
      fn("adam_m", i, s, b - P.offset(i), flat_slice(optim.shard_m(), b - own.begin, e - b), false);
      fn("adam_v", i, s, b - P.offset(i), flat_slice(optim.shard_v(), b - own.begin, e - b), false);
    }
  }
}

}  // namespace

PieceSet pieces_to_save(const ParamArena& params, const AdamW& optim, const parallel::Layout& layout) {
  PieceSet set;
  for_each_held(params, optim, [&](const char* kind, int, const ParamSpec& s, int64_t begin, Tensor t, bool full) {
    if (s.split == Split::kReplicated && layout.tp_rank != 0) return;  // identical on every tp rank
    if (full && layout.dp_rank != 0) return;                           // identical on every dp rank
    add(set, make_piece(kind, s, params, t, begin), t, /*loading=*/false);
  });
  return set;
}

void load_state(const checkpoint::Manifest& m, ParamArena& params, AdamW& optim) {
  PieceSet set;
  for_each_held(params, optim, [&](const char* kind, int, const ParamSpec& s, int64_t begin, Tensor t, bool) {
    // The compute copy is rebuilt from the fp32 master (converted on load), never read from "param/".
    const std::string source = std::string(kind) == "param" ? "master" : kind;
    add(set, make_piece(source, s, params, t, begin), t, /*loading=*/true);
  });
  checkpoint::load(m, set.pieces);
  for (const auto& [index, t] : set.device_targets)
    kernels::device_copy(t.data, t.device, set.pieces[index].data, Device::kCpu, t.nbytes());
}

void load_weights(const checkpoint::Manifest& m, ParamArena& params, const kernels::Ops& ops) {
  PieceSet set;
  for (int i = 0; i < params.size(); ++i) {
    const Tensor t = params.master(i);
    add(set, make_piece("master", params.spec(i), params, t, 0), t, /*loading=*/true);
  }
  checkpoint::load(m, set.pieces);
  for (const auto& [index, t] : set.device_targets)
    kernels::device_copy(t.data, t.device, set.pieces[index].data, Device::kCpu, t.nbytes());
  params.sync_compute(ops);
}

}  // namespace trainer
