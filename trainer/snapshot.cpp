// trainer/snapshot.cpp
#include "trainer/snapshot.h"

#include <algorithm>
#include <cstring>

#include "parallel/grad_sync.h"

namespace trainer {

using model::ParamSpec;
using model::PieceSet;
using model::Split;
using parallel::flat_slice;

namespace {

// Visits every (tensor kind, parameter, local range, tensor view) this rank holds. `full` says
// whether the view is complete on every dp rank (true) or a ZeRO-1 block (false).
template <class Fn>
void for_each_held(const ParamArena& P, const AdamW& optim, Fn&& fn) {
  const bool separate = P.compute_dtype() != P.master_dtype();
  const bool zero = optim.sharded();
  const parallel::ShardRange own = optim.owned();
  for (int i = 0; i < P.size(); ++i) {
    const ParamSpec& s = P.spec(i);
    const int64_t n = P.grad(i).numel();
    if (separate) fn("param", s, int64_t(0), P.compute(i), true);
    if (!zero) {
      fn("master", s, int64_t(0), P.master(i), true);
      fn("adam_m", s, int64_t(0), P.m(i), true);
      fn("adam_v", s, int64_t(0), P.v(i), true);
      continue;
    }
    // The owned block intersected with this parameter, in the parameter's local coordinates.
    const int64_t b = std::max(own.begin, P.offset(i)), e = std::min(own.begin + own.count, P.offset(i) + n);
    if (separate) {
      if (b < e) fn("master", s, b - P.offset(i), flat_slice(optim.shard_master(), b - own.begin, e - b), false);
    } else {
      fn("master", s, int64_t(0), P.master(i), true);  // the fp32 compute copy is the master
    }
    if (b < e) {
      fn("adam_m", s, b - P.offset(i), flat_slice(optim.shard_m(), b - own.begin, e - b), false);
      fn("adam_v", s, b - P.offset(i), flat_slice(optim.shard_v(), b - own.begin, e - b), false);
    }
  }
}

}  // namespace

PieceSet pieces_to_save(const ParamArena& params, const AdamW& optim, const parallel::Layout& layout) {
  PieceSet set;
  for_each_held(params, optim, [&](const char* kind, const ParamSpec& s, int64_t begin, Tensor t, bool full) {
    if (s.split == Split::kReplicated && layout.tp_rank != 0) return;  // identical on every tp rank
    if (full && layout.dp_rank != 0) return;                           // identical on every dp rank
    set.add(kind, s, params, t, begin, /*loading=*/false);
  });
  return set;
}

void load_state(const checkpoint::Manifest& m, ParamArena& params, AdamW& optim) {
  PieceSet set;
  for_each_held(params, optim, [&](const char* kind, const ParamSpec& s, int64_t begin, Tensor t, bool) {
    // The compute copy is rebuilt from the fp32 master (converted on load), never read from "param/".
    const std::string source = std::string(kind) == "param" ? "master" : kind;
    set.add(source, s, params, t, begin, /*loading=*/true);
  });
  checkpoint::load(m, set.pieces);
  set.copy_loaded_to_device();
}

}  // namespace trainer
