// kernels/cuda/compat.cuh
// The one portability header of kernels/cuda: the only place in kernels/cuda that knows whether
// the files are compiled by nvcc for a GPU or by the host compiler for the CPU simulator
// (kernels/cudasim, KILN_CUDASIM=1). Included by common.cuh, so every kernel file gets it.
//   - the CUDA headers, or the simulator's spellings of them (threadIdx, __syncthreads, shuffles,
//     atomics, bf16/fp16, the runtime calls);
//   - KILN_CUBLASLT_HEADER / KILN_CUB_RADIX_SORT_HEADER: the library headers, or the simulator's
//     stand-ins (a reference GEMM behind the cuBLASLt calls matmul.cu makes; a stable radix sort);
//   - launch_kernel<kernel>(grid, block, shared, stream, args...): kernel<<<...>>>(args...), or the
//     simulated launch; op files call it through launch() in common.cuh, never with <<<>>>;
//   - KILN_DYNAMIC_SHARED(T, name): `T* name` = the block's dynamic shared memory;
//   - the warp-level matrix instructions (mma.sync m16n8k16, ldmatrix) as PTX, or their simulated
//     versions that follow the PTX fragment layouts element by element (the fragment API on top:
//     mma.cuh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#if KILN_CUDASIM
#include <source_location>

#include "kernels/cudasim/cuda_spellings.h"
#include "kernels/cudasim/warp_matrix.h"
#define KILN_CUBLASLT_HEADER "kernels/cudasim/cublaslt.h"
#define KILN_CUB_RADIX_SORT_HEADER "kernels/cudasim/cub_radix_sort.h"
#define KILN_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::cudasim::detail::dynamic_shared())
// The simulator's CUDA names live in cudasim::api (so they can never collide with the real CUDA
// libraries in the same binary); kernel code finds them unqualified.
namespace kernels::cuda {
using namespace ::cudasim::api;
}  // namespace kernels::cuda
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define KILN_CUBLASLT_HEADER <cublasLt.h>
#define KILN_CUB_RADIX_SORT_HEADER <cub/device/device_radix_sort.cuh>
// One byte array for every kernel (typed extern __shared__ arrays of different types would clash).
#define KILN_DYNAMIC_SHARED(T, name)                                       \
  extern __shared__ __align__(16) unsigned char kiln_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(kiln_dynamic_shared_)
#endif

namespace kernels::cuda {

template <auto Kernel, class... Args>
void launch_kernel(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, Args&&... args) {
#if KILN_CUDASIM
  ::cudasim::launch<Kernel>(grid, block, shared_bytes, stream, std::forward<Args>(args)...);
#else
  Kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
#endif
}

// ---- warp-level matrix instructions --------------------------------------------------------
// d = a * b + c for one m16n8k16 tile: a (16x16, row-major) and b (16x8, "col") as 16-bit pairs
// in 32-bit registers, c and d fp32; registers per lane in the PTX fragment layout (mma.cuh).
#if KILN_CUDASIM
inline void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                              std::source_location loc = std::source_location::current()) {
  ::cudasim::mma_m16n8k16(::cudasim::MmaType::kBF16, d, a, b, c, loc);
}
inline void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                             std::source_location loc = std::source_location::current()) {
  ::cudasim::mma_m16n8k16(::cudasim::MmaType::kF16, d, a, b, c, loc);
}
// ldmatrix.sync.aligned.m8n8.x{N}[.trans].shared.b16: lanes 0..8N-1 pass one 16-byte row each.
template <int N, bool Trans>
inline void ldmatrix(uint32_t (&r)[N], const void* smem_row, std::source_location loc = std::source_location::current()) {
  ::cudasim::ldmatrix<N>(r, smem_row, Trans, loc);
}
#else
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                  const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
__device__ __forceinline__ void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                 const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
template <int N, bool Trans>
__device__ __forceinline__ void ldmatrix(uint32_t (&r)[N], const void* smem_row) {
  static_assert(N == 1 || N == 2 || N == 4, "ldmatrix loads 1, 2 or 4 matrices");
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  if constexpr (N == 1 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(addr));
  if constexpr (N == 1 && Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(addr));
  if constexpr (N == 2 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
  if constexpr (N == 2 && Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(addr));
  if constexpr (N == 4 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
  if constexpr (N == 4 && Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
#endif

}  // namespace kernels::cuda
