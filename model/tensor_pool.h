// model/tensor_pool.h
// Owner of a model's (or a generator's) activation and scratch buffers: make() allocates one Buffer
// and hands out its Tensor view. The Buffers live as long as the pool; their memory never moves, so
// the views stay valid while more are made.
#pragma once

#include <deque>

#include "kernels/tensor.h"

namespace model {

class TensorPool {
 public:
  kernels::Tensor make(kernels::Device d, kernels::DType dt, kernels::Shape s) {
    owners_.emplace_back(d, size_t(s.numel()) * kernels::dtype_size(dt));
    return owners_.back().view(dt, s);
  }

 private:
  std::deque<kernels::Buffer> owners_;
};

}  // namespace model
