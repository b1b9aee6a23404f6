// parallel/comm_self.cpp
// SelfComm (the group of one) and the shared argument checks declared in comm_self.h.
// With one rank every collective is an identity: the sum, max or average over one rank is that
// rank's value, and the only data movement is all_gather / reduce_scatter copying `in` to `out`.
#include "parallel/comm_self.h"

#include <cstdint>
#include <string>

#include "kernels/check.h"

namespace parallel {

namespace detail {

namespace {

std::string where(const char* backend, const char* op) { return std::string(backend) + "." + op + ": "; }

bool reducible(kernels::DType d) {
  using kernels::DType;
  return d == DType::F32 || d == DType::F64 || d == DType::BF16 || d == DType::F16 || d == DType::I32;
}

void check_reduce_dtype(const std::string& at, kernels::DType d, ReduceOp op) {
  KILN_CHECK(reducible(d), at + "cannot reduce " + kernels::dtype_name(d) + " (fp32, fp64, bf16, fp16, int32)");
  // An integer average would have to round; no caller needs it, so it is refused rather than
  // defined differently by each backend.
  KILN_CHECK(!(d == kernels::DType::I32 && op == ReduceOp::kAvg), at + "int32 takes sum or max, not avg");
}

bool overlaps(const Tensor& a, const Tensor& b) {
  const auto* a0 = static_cast<const char*>(a.data);
  const auto* b0 = static_cast<const char*>(b.data);
  return a.nbytes() > 0 && b.nbytes() > 0 && a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAvg: return "avg";
    case ReduceOp::kMax: return "max";
  }
  return "?";
}

bool is_block_of(const Tensor& part, const Tensor& whole, int r) {
  return static_cast<const char*>(part.data) ==
         static_cast<const char*>(whole.data) + size_t(r) * part.nbytes();
}

void check_all_reduce(const char* backend, const Tensor& t, ReduceOp op) {
  const std::string at = where(backend, "all_reduce");
  KILN_CHECK(t.numel() == 0 || !t.empty(), at + "tensor " + t.shape.str() + " has no data");
  check_reduce_dtype(at, t.dtype, op);
}

void check_all_gather(const char* backend, const Tensor& out, const Tensor& in, int n, int r) {
  const std::string at = where(backend, "all_gather");
  KILN_CHECK(out.dtype == in.dtype, at + "out is " + kernels::dtype_name(out.dtype) + ", in is " +
                                        kernels::dtype_name(in.dtype));
  KILN_CHECK(out.device == in.device, at + "out and in live on different devices");
  KILN_CHECK(out.numel() == int64_t(n) * in.numel(),
             at + "out has " + std::to_string(out.numel()) + " elements, expected " + std::to_string(n) +
                 " ranks x " + std::to_string(in.numel()));
  KILN_CHECK(!overlaps(out, in) || is_block_of(in, out, r),
             at + "in overlaps out but is not out's block " + std::to_string(r) + " (the in-place form)");
}

void check_reduce_scatter(const char* backend, const Tensor& out, const Tensor& in, ReduceOp op, int n, int r) {
  const std::string at = where(backend, "reduce_scatter");
  KILN_CHECK(out.dtype == in.dtype, at + "out is " + kernels::dtype_name(out.dtype) + ", in is " +
                                        kernels::dtype_name(in.dtype));
  KILN_CHECK(out.device == in.device, at + "out and in live on different devices");
  check_reduce_dtype(at, in.dtype, op);
  KILN_CHECK(in.numel() == int64_t(n) * out.numel(),
             at + "in has " + std::to_string(in.numel()) + " elements, expected " + std::to_string(n) +
                 " ranks x " + std::to_string(out.numel()));
  KILN_CHECK(!overlaps(out, in) || is_block_of(out, in, r),
             at + "out overlaps in but is not in's block " + std::to_string(r) + " (the in-place form)");
}

void check_broadcast(const char* backend, const Tensor& t, int root, int n) {
  const std::string at = where(backend, "broadcast");
  KILN_CHECK(root >= 0 && root < n, at + "root " + std::to_string(root) + " outside a group of " + std::to_string(n));
  KILN_CHECK(t.numel() == 0 || !t.empty(), at + "tensor " + t.shape.str() + " has no data");
}

}  // namespace detail

void SelfComm::all_reduce(Tensor t, ReduceOp op, Stream) {
  detail::check_all_reduce("self", t, op);  // sum, max and avg over one rank: t itself
}

void SelfComm::all_gather(Tensor out, Tensor in, Stream s) {
  detail::check_all_gather("self", out, in, 1, 0);
  copy(out, in, s);
}

void SelfComm::reduce_scatter(Tensor out, Tensor in, ReduceOp op, Stream s) {
  detail::check_reduce_scatter("self", out, in, op, 1, 0);
  copy(out, in, s);
}

void SelfComm::broadcast(Tensor t, int root, Stream) { detail::check_broadcast("self", t, root, 1); }

std::unique_ptr<Comm> SelfComm::split(int, int) { return std::make_unique<SelfComm>(device_copy_); }

// The one data movement of the backend. In-place forms (out == in) have nothing to do.
void SelfComm::copy(Tensor out, Tensor in, Stream s) {
  if (out.data == in.data || in.nbytes() == 0) return;
  if (in.device == kernels::Device::kCpu) {
    kernels::device_copy(out.data, out.device, in.data, in.device, in.nbytes());
  } else if (device_copy_ != nullptr) {
    device_copy_(out.data, in.data, in.nbytes(), s);  // stays on the caller's stream, no host sync
  } else {
    // No stream-ordered copy was given: wait for the producer of `in`, then copy synchronously.
    kernels::device_synchronize(in.device);
    kernels::device_copy(out.data, out.device, in.data, in.device, in.nbytes());
  }
}

}  // namespace parallel
