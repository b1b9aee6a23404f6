// kernels/cuda/mma_check.h
// Two small matrix products computed with the tensor-core fragment API (mma.cuh), so the API is
// checked against a plain product on the simulator (tests/kernels_cuda, every CI run) and on a GPU
// when one is present. Not an op of the table and not used by the model: a reference user of
// mma.cuh for the tensor-core kernels to come. Plain C++ (no CUDA header).
#pragma once

#include "kernels/device.h"
#include "kernels/tensor.h"

namespace kernels::cuda {

// c (M,N) fp32 = a (M,K) @ B with a bf16 or fp16. B is b (K,N) when b_k_major, else b holds B^T
// as (N,K). M a multiple of 16, N of 8, K of 16.
void mma_tile_matmul(Tensor c, Tensor a, Tensor b, bool b_k_major, Stream s);

// d (M,8) fp32 = round(a (M,16) @ b1 (16,16)) @ b2 (16,8): the first product's accumulators,
// rounded to the input dtype, are the second product's A operand (a_from_accumulators).
void mma_chain_matmul(Tensor d, Tensor a, Tensor b1, Tensor b2, Stream s);

}  // namespace kernels::cuda
