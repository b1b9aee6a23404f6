// model/weights_io.cpp
#include "model/weights_io.h"

namespace model {

void PieceSet::add(const std::string& kind, const ParamSpec& s, const ParamArena& P, Tensor t, int64_t local_begin,
                   bool loading) {
  checkpoint::Piece p;
  p.tensor = kind + "/" + s.name;
  p.dtype = t.dtype;
  p.global_shape = s.shape;
  p.split = s.split;
  p.tp = P.tp();
  p.tp_rank = P.tp_rank();
  p.local_begin = local_begin;
  p.count = t.numel();
  p.data = t.data;
  if (t.device != Device::kCpu) {
    staging.emplace_back(new char[t.nbytes()]);
    p.data = staging.back().get();
    if (loading) device_targets.emplace_back(pieces.size(), t);
    else kernels::copy_to_host(p.data, t.data, t.device, t.nbytes());
  }
  pieces.push_back(std::move(p));
}

void PieceSet::copy_loaded_to_device() {
  for (const auto& [index, t] : device_targets)
    kernels::copy_from_host(t.data, t.device, pieces[index].data, t.nbytes());
}

void load_weights(const checkpoint::Manifest& m, ParamArena& params, const kernels::Ops& ops) {
  PieceSet set;
  for (int i = 0; i < params.size(); ++i) set.add("master", params.spec(i), params, params.master(i), 0, /*loading=*/true);
  checkpoint::load(m, set.pieces);
  set.copy_loaded_to_device();
  params.sync_compute(ops);
}

}  // namespace model
