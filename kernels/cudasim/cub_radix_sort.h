// kernels/cudasim/cub_radix_sort.h
// A stand-in for cub::DeviceRadixSort::SortPairs (the one cub call kiln makes, in
// kernels/cuda/embedding.cu), so that file compiles and runs unchanged on the simulator. Same
// contract: the first call (temp == nullptr) reports the temporary storage needed, the second
// sorts by key bits [begin_bit, end_bit), stable, keys and values out of place. The sort uses the
// caller's temporary storage as its working buffer, so an undersized scratch allocation in the
// caller is an out-of-bounds access the AddressSanitizer build reports. Not simulated thread by
// thread: cub's kernels are NVIDIA's. Included via KILN_CUB_RADIX_SORT_HEADER (compat.cuh).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/cudasim/runtime_api.h"

namespace cudasim::api {

namespace cub {

struct DeviceRadixSort {
  template <class Key, class Value, class NumItems>
  static cudaError_t SortPairs(void* temp, size_t& temp_bytes, const Key* keys_in, Key* keys_out,
                               const Value* values_in, Value* values_out, NumItems num_items, int begin_bit = 0,
                               int end_bit = int(sizeof(Key) * 8), cudaStream_t = nullptr, bool = false) {
    static_assert(std::is_unsigned_v<Key>, "the stand-in sorts unsigned keys (what kiln uses)");
    const size_t n = size_t(num_items);
    const size_t need = n * (sizeof(Key) + sizeof(Value)) + 16;
    if (temp == nullptr) {
      temp_bytes = need;
      return cudaSuccess;
    }
    if (temp_bytes < need || begin_bit < 0 || end_bit > int(sizeof(Key) * 8) || begin_bit > end_bit)
      return cudaErrorInvalidValue;
    // LSD radix sort, 8 bits per pass, ping-ponging between the outputs and the temporary buffer.
    Key* tk = static_cast<Key*>(temp);
    Value* tv = reinterpret_cast<Value*>(static_cast<char*>(temp) + n * sizeof(Key));
    std::memcpy(keys_out, keys_in, n * sizeof(Key));
    std::memcpy(values_out, values_in, n * sizeof(Value));
    Key *src_k = keys_out, *dst_k = tk;
    Value *src_v = values_out, *dst_v = tv;
    for (int bit = begin_bit; bit < end_bit; bit += 8) {
      const int bits = end_bit - bit < 8 ? end_bit - bit : 8;
      const uint64_t mask = (uint64_t(1) << bits) - 1;
      size_t start[257] = {};
      for (size_t i = 0; i < n; ++i) ++start[((uint64_t(src_k[i]) >> bit) & mask) + 1];
      for (int d = 0; d < 256; ++d) start[d + 1] += start[d];
      for (size_t i = 0; i < n; ++i) {
        const size_t at = start[(uint64_t(src_k[i]) >> bit) & mask]++;
        dst_k[at] = src_k[i];
        dst_v[at] = src_v[i];
      }
      std::swap(src_k, dst_k);
      std::swap(src_v, dst_v);
    }
    if (src_k != keys_out) {
      std::memcpy(keys_out, src_k, n * sizeof(Key));
      std::memcpy(values_out, src_v, n * sizeof(Value));
    }
    return cudaSuccess;
  }
};

}  // namespace cub

}  // namespace cudasim::api
