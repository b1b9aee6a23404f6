// trainer/checkpointing.cpp
// The trainer's side of checkpoints: what a save contains (trainer/snapshot.cpp decides which
// pieces this rank writes), resuming per `checkpoint.resume`, and agreeing on a stop request.
#include <cstdio>

#include "configs/load.h"
#include "data/tokenizer.h"
#include "kernels/check.h"
#include "trainer/signals.h"
#include "trainer/snapshot.h"
#include "trainer/trainer.h"

namespace trainer {

void Trainer::save_checkpoint() {
  checkpoint::RunState st;
  st.step = step_;
  st.tokens = tokens_;
  st.loss_scale = scaler_.scale;
  st.skipped_steps = skipped_;
  const data::LoaderState ls = loader_->state();
  st.loader_epoch = ls.epoch;
  st.loader_position = ls.position;
  st.seed = cfg_.run.seed;
  st.dp = layout_.dp;
  st.tp = layout_.tp;
  st.zero = cfg_.parallel.zero;
  st.config_yaml = configs::to_yaml(cfg_);
  st.tokenizer_dir = data::shard_tokenizer_dir(cfg_.data.train);
  set_phase(step_, "checkpoint");
  const model::PieceSet set = pieces_to_save(model_->params(), *optim_, layout_);
  // No checkpoint holds a NaN or an infinity: every rank checks what it would write, and all agree
  // (one collective per save) before anything is written. The guards skip non-finite updates, so
  // this fires only when finite updates overflowed the weights (an absurd learning rate).
  const std::string bad = first_non_finite(set.pieces);
  if (const int ranks = count_over_world(!bad.empty()); ranks > 0) {
    if (!bad.empty()) {
      std::fflush(stdout);
      std::fprintf(stderr, "%skiln: error: checkpoint step %d not written: %s\n", kernels::rank_prefix().c_str(), step_,
                   bad.c_str());
    }
    guard_stop_ = "checkpoint step " + std::to_string(step_) + " not written: non-finite values in the weights or "
                  "optimizer state of " + std::to_string(ranks) + " rank(s) (above); the last checkpoint written is "
                  "kept. Exit code " + std::to_string(kGuardExitCode);
    return;
  }
  saver_->begin(st, set.pieces);  // copies the bytes; the files are written in the background
  last_saved_step_ = step_;
}

void Trainer::resume_if_asked() {
  const std::string& how = cfg_.checkpoint.resume;
  if (how == "none") return;
  std::string dir;
  if (how == "auto") {
    const std::optional<std::string> found = checkpoint::find_resume(ckpt_dir_, *groups_.world);
    if (!found) return;
    dir = *found;
  } else {
    // An explicit path must be a complete, verified checkpoint: no silent fallback (CONTRACTS §6).
    checkpoint::verify(checkpoint::read_manifest(how));
    dir = how;
  }
  const checkpoint::Manifest m = checkpoint::read_manifest(dir);
  load_state(m, model_->params(), *optim_);
  step_ = int(m.state.step);
  tokens_ = m.state.tokens;
  scaler_.scale = m.state.loss_scale;
  skipped_ = int(m.state.skipped_steps);
  optim_->set_steps_taken(step_ - skipped_);  // skipped fp16 steps did not advance AdamW
  loader_->restore({m.state.loader_epoch, m.state.loader_position});
  resumed_step_ = last_saved_step_ = step_;
  if (is_root())
    std::printf("kiln | resumed from %s at step %d (written by dp=%d tp=%d zero=%d)\n", dir.c_str(), step_, m.state.dp,
                m.state.tp, m.state.zero);
}

bool Trainer::stop_agreed() {
  // Every rank must take the same branch, so the flag is all-reduced even when nobody was signalled.
  kernels::OwnedTensor flag(kernels::Device::kCpu, kernels::DType::I32, {1});
  flag.t.as<int32_t>()[0] = stop_requested() ? 1 : 0;
  groups_.world->all_reduce(flag.t, parallel::ReduceOp::kMax, {});
  return flag.t.as<int32_t>()[0] != 0;
}

}  // namespace trainer
