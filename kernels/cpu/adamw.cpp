// kernels/cpu/adamw.cpp
// Ops entry points for the AdamW step: checks, the update on the fp32 master (fp64 allowed when
// every state tensor is fp64), then the optional compute copy refreshed from master by cast().
// fp32 runs the vectorised kernel of simd/table.h, fp64 the reference in adamw.h.
// adamw_update_multi is the same update piece by piece of a segment table (kernels/segments.h),
// each piece with its own weight decay: exactly the arithmetic of one adamw_update per piece.
// Called through kernels::cpu::kOps by trainer/optimizer. Not here: the math (adamw.h).
#include "kernels/cpu/adamw.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/simd/table.h"
#include "kernels/segments.h"

namespace kernels::cpu {

namespace {

// The state dtypes this backend takes: master fp32 (or fp64), grad/m/v the same.
void check_state_dtypes(const char* op, const Tensor& master, const Tensor& grad, const Tensor& m, const Tensor& v) {
  // Optimizer state is never low precision: no widening here, unlike dispatch_float.
  KILN_CHECK(master.dtype == DType::F32 || master.dtype == DType::F64,
             op_msg(op, std::string("master must be fp32 (or fp64), got ") + dtype_name(master.dtype)));
  for (const auto& [name, t] : {NamedTensor{"grad", &grad}, NamedTensor{"m", &m}, NamedTensor{"v", &v}})
    KILN_CHECK(t->dtype == master.dtype, op_msg(op, std::string(name) + " is " + dtype_name(t->dtype) +
                                                        ", must match master (" + dtype_name(master.dtype) + ")"));
}

// Elements [begin, begin + n) of flat t, as a 1-D tensor.
Tensor piece(const Tensor& t, int64_t begin, int64_t n) {
  return Tensor{static_cast<char*>(t.data) + size_t(begin) * dtype_size(t.dtype), t.dtype, t.device, Shape{n}};
}

// The update of elements [begin, begin + n) (dtypes checked), then their compute copy.
void update_piece(const Tensor& master, const Tensor& compute, const Tensor& grad, const Tensor& m, const Tensor& v,
                  int64_t begin, int64_t n, const AdamWArgs& args, Stream s) {
  if (master.dtype == DType::F64)
    adamw_update_ref<double>(master.as<double>() + begin, grad.as<double>() + begin, m.as<double>() + begin,
                             v.as<double>() + begin, n, args);
  else  // the bias corrections exactly as adamw_update_ref computes them in fp32
    simd::active().adamw_update(
        master.as<float>() + begin, grad.as<float>() + begin, m.as<float>() + begin, v.as<float>() + begin, n,
        {args.lr, args.beta1, args.beta2, args.eps, args.weight_decay, args.grad_scale,
         1.0f - std::pow(args.beta1, float(args.step)), 1.0f - std::pow(args.beta2, float(args.step))});
  // cast checks the dtype and rounds to nearest even.
  if (!compute.empty()) cast(piece(compute, begin, n), piece(master, begin, n), s);
}

}  // namespace

void adamw_update(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, AdamWArgs args, Stream s) {
  const int64_t n = check_adamw_update(kDevice, master, compute, grad, m, v, args);
  check_state_dtypes("adamw_update", master, grad, m, v);
  update_piece(master, compute, grad, m, v, 0, n, args, s);
}

void adamw_update_multi(Tensor master, Tensor compute, Tensor grad, Tensor m, Tensor v, Tensor segments,
                        AdamWArgs args, Stream s) {
  const char* op = "adamw_update_multi";
  int64_t rows = 0;
  const int64_t n = check_adamw_update_multi(kDevice, master, compute, grad, m, v, segments, args, &rows);
  check_state_dtypes(op, master, grad, m, v);
  const uint32_t* table = segments.as<uint32_t>();
  check_segment_table_rows(op, table, rows, n, /*flag_limit=*/2);
  for (int64_t r = 0; r < rows; ++r) {
    const Segment seg = segment_at(table, r);
    AdamWArgs a = args;
    a.weight_decay = seg.flag ? args.weight_decay : 0.f;
    update_piece(master, compute, grad, m, v, seg.start, seg.length, a, s);
  }
}

}  // namespace kernels::cpu
