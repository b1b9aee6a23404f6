// kernels/cpu/adamw.cpp
// Ops entry point for the AdamW step: checks, the update on the fp32 master (fp64 allowed when
// every state tensor is fp64), then the optional compute copy refreshed from master by cast().
// Called through kernels::cpu::kOps by trainer/optimizer. Not here: the math (adamw.h).
#include "kernels/cpu/adamw.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/elementwise.h"

namespace kernels::cpu {

void adamw_update(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, AdamWArgs args, Stream s) {
  const char* op = "adamw_update";
  const int64_t n = check_adamw_update(kDevice, master, compute, grad, m, v, args);
  // Optimizer state is never low precision: no widening here, unlike dispatch_float.
  KILN_CHECK(master.dtype == DType::F32 || master.dtype == DType::F64,
             op_msg(op, std::string("master must be fp32 (or fp64), got ") + dtype_name(master.dtype)));
  for (const auto& [name, t] : {NamedTensor{"grad", &grad}, NamedTensor{"m", &m}, NamedTensor{"v", &v}})
    KILN_CHECK(t->dtype == master.dtype, op_msg(op, std::string(name) + " is " + dtype_name(t->dtype) +
                                                        ", must match master (" + dtype_name(master.dtype) + ")"));
  if (master.dtype == DType::F64)
    adamw_update_ref<double>(master.as<double>(), grad.as<double>(), m.as<double>(), v.as<double>(), n, args);
  else
    adamw_update_ref<float>(master.as<float>(), grad.as<float>(), m.as<float>(), v.as<float>(), n, args);
  if (!compute.empty()) cast(compute, master, s);  // checks numel and dtype, rounds to nearest even
}

}  // namespace kernels::cpu
