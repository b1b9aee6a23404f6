#include "kernels/cpu/ops_cpu.h"
namespace kernels::cpu {
extern const Ops kOps = {.name = "cpu"};
}
