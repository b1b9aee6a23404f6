// kernels/tensor.cpp
// Shape arithmetic, Tensor views and the Buffer owner. Allocation goes through device.h so this
// file does not know which backends exist.
#include "kernels/tensor.h"

#include <utility>

namespace kernels {

Shape::Shape(std::initializer_list<int64_t> d) {
  KILN_CHECK(d.size() <= size_t(kMaxDims), "at most 4 dims");
  for (int64_t v : d) dims[ndim++] = v;
}

int64_t Shape::numel() const {
  if (ndim == 0) return 0;
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= dims[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; ++i)
    if (dims[i] != o.dims[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

Tensor Tensor::reshaped(Shape s) const {
  KILN_CHECK(s.numel() == numel(), "reshape " + shape.str() + " -> " + s.str() + " changes numel");
  Tensor t = *this;
  t.shape = s;
  return t;
}

Tensor Tensor::slice_rows(int64_t begin, int64_t count) const {
  KILN_CHECK(shape.ndim >= 1 && begin >= 0 && begin + count <= shape[0], "slice_rows out of range");
  const int64_t row = shape[0] ? numel() / shape[0] : 0;
  Tensor t = *this;
  t.shape.dims[0] = count;
  t.data = static_cast<char*>(data) + size_t(begin * row) * dtype_size(dtype);
  return t;
}

Buffer::Buffer(Device d, size_t bytes) : device_(d), bytes_(bytes) {
  data_ = bytes ? device_alloc(d, bytes) : nullptr;
}
Buffer::~Buffer() { release(); }
Buffer::Buffer(Buffer&& o) noexcept { *this = std::move(o); }
Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    device_ = o.device_;
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}
void Buffer::release() {
  if (data_) device_free(device_, data_);
  data_ = nullptr;
  bytes_ = 0;
}

Tensor Buffer::view(DType dt, Shape s, size_t byte_offset) const {
  const size_t need = byte_offset + size_t(s.numel()) * dtype_size(dt);
  KILN_CHECK(need <= bytes_, "view of " + std::to_string(need) + " bytes exceeds buffer of " +
                                 std::to_string(bytes_));
  Tensor t;
  t.data = static_cast<char*>(data_) + byte_offset;
  t.dtype = dt;
  t.device = device_;
  t.shape = s;
  return t;
}

}  // namespace kernels
