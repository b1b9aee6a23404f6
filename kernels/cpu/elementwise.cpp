// kernels/cpu/elementwise.cpp
// Ops entry points for residual add, cast and zero. Called through kernels::cpu::kOps; cast also
// by adamw.cpp. Not here: anything that reduces.
#include "kernels/cpu/elementwise.h"

#include <cstring>

namespace kernels::cpu {

void residual_forward(Tensor out, Tensor a, Tensor b, Stream) {
  const char* op = "residual_forward";
  check_residual_forward(kDevice, out, a, b);
  dispatch_float(op, {{&out, Access::kWrite, "out"}, {&a, Access::kRead, "a"}, {&b, Access::kRead, "b"}},
                 [&](auto tag) {
                   using Real = decltype(tag);
                   residual_forward_ref<Real>(out.as<Real>(), a.as<Real>(), b.as<Real>(), a.numel());
                 });
}

void cast(Tensor dst, Tensor src, Stream) {
  const char* op = "cast";
  check_cast(kDevice, dst, src);
  if (dst.dtype == src.dtype) {  // same type: a copy (memmove: tolerate dst == src)
    std::memmove(dst.data, src.data, src.nbytes());
    return;
  }
  visit_float_dtype(op, "src", src.dtype, [&](auto src_tag) {
    using Src = decltype(src_tag);
    visit_float_dtype(op, "dst", dst.dtype, [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      cast_ref<Dst, Src>(static_cast<Dst*>(dst.data), static_cast<const Src*>(src.data), src.numel());
    });
  });
}

void zero(Tensor x, Stream) {
  if (x.empty()) return;  // a zero-sized view (e.g. an empty shard) has nothing to clear
  check_cpu("zero", "x", x);
  std::memset(x.data, 0, x.nbytes());
}

}  // namespace kernels::cpu
