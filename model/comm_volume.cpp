// model/comm_volume.cpp
#include "model/comm_volume.h"

#include "parallel/grad_sync.h"
#include "model/params.h"

namespace model {

StepCommVolume step_comm_volume(const configs::Config& cfg, int dp, int tp, kernels::DType compute) {
  StepCommVolume v;
  const configs::ModelConfig& m = cfg.model;
  const bool zero1 = cfg.parallel.zero == 1 && dp > 1;
  // P_local exactly as the arena lays it out (64-element alignment, ZeRO-1 padding to dp blocks).
  for (const ParamSpec& s : gpt2_param_specs(m, m.vocab_size)) v.local_params += (local_shape(s, tp).numel() + 63) / 64 * 64;
  if (zero1) v.local_params = (v.local_params + dp - 1) / dp * dp;
  const int64_t act = int64_t(kernels::dtype_size(compute));
  const int64_t bt = int64_t(cfg.train.micro_batch) * m.seq_len, accum = cfg.train.global_batch / (int64_t(cfg.train.micro_batch) * dp);
  if (tp > 1) {
    const int64_t per_micro = (2 + 4 * int64_t(m.n_layer)) * bt * m.d_model * act + 12 * bt;
    v.tp_payload = per_micro * accum + 4;  // + the grad-norm scalar
    v.tp_wire = double(v.tp_payload) * 2.0 * (tp - 1) / tp;
  }
  if (dp > 1) {
    if (zero1) {
      const int64_t rs = 4 * v.local_params, ag = v.local_params / dp * act;
      v.dp_payload = rs + ag + 12;  // + [loss, gradient health] and grad-norm scalars
      // A ring reduce-scatter sends (n-1)/n of its input; an all-gather sends its block n-1 times.
      v.dp_wire = double(rs) * (dp - 1) / dp + double(ag) * (dp - 1) + 12.0 * 2.0 * (dp - 1) / dp;
    } else {
      v.dp_payload = 4 * v.local_params + 8;  // + [loss, gradient health] (trainer/guards.h)
      v.dp_wire = double(v.dp_payload) * 2.0 * (dp - 1) / dp;
    }
  }
  return v;
}

}  // namespace model
