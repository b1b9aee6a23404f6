// trainer/fault_injection.cpp
#include "trainer/fault_injection.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <thread>

#include "kernels/check.h"
#include "kernels/device.h"

namespace trainer {

namespace {

[[noreturn]] void bad(const std::string& item, const std::string& why) {
  throw kernels::InputError("KILN_TEST_FAULT: '" + item + "': " + why +
                            " (expected KIND@STEP[-LAST]:RANK[:SECONDS], KIND one of nan_grad, nan_loss, spike, stall, die, "
                            "replay_mismatch)");
}

int to_int(const std::string& item, const std::string& s) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < 0 || v > std::numeric_limits<int>::max()) bad(item, "'" + s + "' is not a count");
  return int(v);
}

}  // namespace

FaultInjection::FaultInjection(const std::string& spec, int rank) {
  std::stringstream all(spec);
  std::string item;
  while (std::getline(all, item, ';')) {
    if (item.empty()) continue;
    const size_t at = item.find('@'), colon = item.find(':', at == std::string::npos ? 0 : at);
    if (at == std::string::npos || colon == std::string::npos) bad(item, "no @STEP:RANK");
    Fault f;
    f.kind = item.substr(0, at);
    if (f.kind != "nan_grad" && f.kind != "nan_loss" && f.kind != "spike" && f.kind != "stall" && f.kind != "die" &&
        f.kind != "replay_mismatch")
      bad(item, "unknown kind '" + f.kind + "'");
    const std::string steps = item.substr(at + 1, colon - at - 1);
    const size_t dash = steps.find('-');
    f.first = to_int(item, steps.substr(0, dash));
    f.last = dash == std::string::npos ? f.first : to_int(item, steps.substr(dash + 1));
    std::string rest = item.substr(colon + 1);
    const size_t colon2 = rest.find(':');
    const int fault_rank = to_int(item, rest.substr(0, colon2));
    if (colon2 != std::string::npos) f.seconds = to_int(item, rest.substr(colon2 + 1));
    if (fault_rank == rank) faults_.push_back(f);
  }
}

FaultInjection FaultInjection::from_env(int rank) {
  const char* v = std::getenv("KILN_TEST_FAULT");
  return FaultInjection(v != nullptr ? v : "", rank);
}

bool FaultInjection::active(const char* kind, int step, double* seconds) const {
  for (const Fault& f : faults_)
    if (f.kind == kind && step >= f.first && step <= f.last) {
      if (seconds) *seconds = f.seconds;
      return true;
    }
  return false;
}

void FaultInjection::at_step_start(int step) const {
  if (faults_.empty()) return;
  double seconds = 0;
  if (active("die", step)) {
    std::fprintf(stderr, "%skiln: KILN_TEST_FAULT: dying at step %d\n", kernels::rank_prefix().c_str(), step);
    std::fflush(stderr);
    std::raise(SIGKILL);
  }
  if (active("stall", step, &seconds)) {
    std::fprintf(stderr, "%skiln: KILN_TEST_FAULT: stalling %g s at step %d\n", kernels::rank_prefix().c_str(), seconds,
                 step);
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
}

void FaultInjection::on_local_loss(int step, double& local_loss) const {
  if (faults_.empty()) return;
  if (active("nan_loss", step)) local_loss = std::numeric_limits<double>::quiet_NaN();
  if (active("spike", step)) local_loss *= 100;
}

void FaultInjection::after_last_backward(int step, kernels::Tensor grads) const {
  if (faults_.empty() || !active("nan_grad", step)) return;
  KILN_CHECK(grads.dtype == kernels::DType::F32, "KILN_TEST_FAULT nan_grad: fp32 gradients only");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  kernels::copy_from_host(grads.data, grads.device, &nan, sizeof nan);
}

}  // namespace trainer
