// trainer/signals.h
// Preemption: SIGTERM (Slurm's and Kubernetes' polite kill) and SIGUSR1 (Slurm's
// `--signal=B:USR1@300` warning) set a flag; the trainer asks all ranks at the next step boundary
// whether any saw it (one collective), then saves a checkpoint, commits it and exits with code 3.
// The handler only stores to an atomic flag: nothing else is async-signal-safe.
#pragma once

namespace trainer {

void install_stop_signal_handlers();  // idempotent
bool stop_requested();                // this process received SIGTERM or SIGUSR1
void request_stop();                  // as if a signal arrived (tests)
void clear_stop_request();

}  // namespace trainer
