// kernels/tensor.h
// Tensor: a non-owning, typed, shaped view of contiguous memory. Buffer: the owner of one allocation.
//
// Tensors are cheap to copy and never free anything; whoever made the Buffer keeps it alive for as
// long as its views are used. Shapes are row-major and contiguous, at most kMaxDims dimensions.
// An empty Tensor (data == nullptr) is how ops are told "no such input" (e.g. a matmul without bias).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "kernels/check.h"
#include "kernels/device.h"
#include "kernels/dtype.h"

namespace kernels {

constexpr int kMaxDims = 4;

struct Shape {
  int64_t dims[kMaxDims] = {0, 0, 0, 0};
  int ndim = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  int64_t numel() const;
  int64_t operator[](int i) const { return dims[i]; }
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "(2, 3, 4)"
};

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::F32;
  Device device = Device::kCpu;
  Shape shape;

  bool empty() const { return data == nullptr; }
  int64_t numel() const { return shape.numel(); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape[i]; }

  template <class T> T* as() const {
    KILN_CHECK(dtype == dtype_of<T>(), std::string("tensor is ") + dtype_name(dtype) +
                                           ", requested " + dtype_name(dtype_of<T>()));
    return static_cast<T*>(data);
  }
  // Same memory, another shape with the same element count.
  Tensor reshaped(Shape s) const;
  // Rows [begin, begin+count) along the first dimension.
  Tensor slice_rows(int64_t begin, int64_t count) const;
};

// Owns one allocation on one device. Never copied; moved freely.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Device d, size_t bytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;

  Tensor view(DType dt, Shape s, size_t byte_offset = 0) const;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void release();
  Device device_ = Device::kCpu;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A Buffer with exactly one Tensor view: the common case for tests and scratch space.
struct OwnedTensor {
  Buffer buffer;
  Tensor t;
  OwnedTensor() = default;
  OwnedTensor(Device d, DType dt, Shape s) : buffer(d, size_t(s.numel()) * dtype_size(dt)), t(buffer.view(dt, s)) {}
};

}  // namespace kernels
