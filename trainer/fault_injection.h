// trainer/fault_injection.h
// Test-only faults, so the guards can be shown to work on a real run (tests/tools/test_guards_cli.cpp).
// Read once from the environment variable KILN_TEST_FAULT, deliberately not a config key and not
// in the user documentation. Empty or unset: nothing happens, and every hook is one branch.
//
//   KILN_TEST_FAULT = FAULT[;FAULT...]      FAULT = KIND@STEPS:RANK[:SECONDS]
//   STEPS = N or N-M (optimizer steps, 1-based, inclusive); RANK = world rank
//   nan_grad         after the last backward of the step, the first gradient element becomes NaN
//   nan_loss         this rank's loss of the step becomes NaN (its gradients stay finite)
//   spike            this rank's loss of the step is multiplied by 100 (a finite loss spike)
//   stall            the rank sleeps SECONDS (default 3600) at the start of the step
//   die              the rank kills itself (SIGKILL) at the start of the step
//   replay_mismatch  the replay check's recomputed loss is moved by one ulp
// A malformed value is an InputError naming KILN_TEST_FAULT.
#pragma once

#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace trainer {

class FaultInjection {
 public:
  // Parses `spec` (the variable's value) for world rank `rank`.
  FaultInjection(const std::string& spec, int rank);
  static FaultInjection from_env(int rank);

  // At the start of step `step`: stall or die when asked.
  void at_step_start(int step) const;
  // After the last micro-batch's backward of `step`: poison a gradient or this rank's loss.
  void after_last_backward(int step, kernels::Tensor grads) const;
  // nan_loss / spike: this rank's loss of the step, once it is read to the host.
  void on_local_loss(int step, double& local_loss) const;
  bool perturb_replay(int step) const { return active("replay_mismatch", step); }

 private:
  struct Fault {
    std::string kind;
    int first = 0, last = 0;
    double seconds = 3600;
  };
  bool active(const char* kind, int step, double* seconds = nullptr) const;
  std::vector<Fault> faults_;  // this rank's only
};

}  // namespace trainer
