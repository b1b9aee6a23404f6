// tests/checkpoint/ckpt_test.h
// A small synthetic "model state" for checkpoint tests: tensors of every split kind, held by ranks
// of a (dp, tp) layout the way a trainer with ZeRO would hold them, with values that are a formula
// of (tensor, global element) so any load under any layout can be checked element by element.
//
// Used by test_checkpoint (one process that plays all ranks) and test_checkpoint_mpi (4 ranks).
// Expected values are written down from the formula (STYLE E15), never read back from a save.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "kernels/dtype.h"
#include "parallel/tp_split.h"

namespace ckpt_test {

using checkpoint::Piece;
using kernels::DType;
using kernels::Shape;
using parallel::Split;

struct Spec {
  std::string name;
  Shape shape;
  Split split;
};

// Every split kind, with shapes that shard under tp = 1, 2, 3 (rows/replicated only) and 4.
inline std::vector<Spec> specs() {
  return {{"wte", Shape{16, 6}, Split::kRows},           {"h.0.attn.c_attn.weight", Shape{24, 4}, Split::kQkvRows},
          {"h.0.attn.c_attn.bias", Shape{24}, Split::kQkvRows}, {"h.0.attn.c_proj.weight", Shape{4, 8}, Split::kCols},
          {"h.0.ln_1.weight", Shape{8}, Split::kReplicated}, {"h.0.mlp.c_fc.bias", Shape{16}, Split::kRows}};
}

// The optimizer-state groups a trainer saves: compute copy (bf16) and fp32 master + moments.
struct Group {
  std::string prefix;
  DType dtype;
};
inline std::vector<Group> groups() {
  return {{"params/", DType::BF16}, {"master/", DType::F32}, {"adam_m/", DType::F32}, {"adam_v/", DType::F32}};
}

// The value of global element g of tensor `name`, as a float (then rounded to the stored dtype).
inline float value(const std::string& name, int64_t g, int64_t step = 0) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
  return float(std::sin(double(h % 1000) + 0.37 * double(g) + 0.01 * double(step)) * 3.0);
}
inline float rounded(DType d, float x) { return kernels::round_to(d, x); }

// Host memory behind pieces; kept alive as long as the pieces are used.
struct Holder {
  std::vector<std::unique_ptr<std::byte[]>> bufs;
  void* alloc(size_t bytes) {
    bufs.emplace_back(new std::byte[bytes == 0 ? 1 : bytes]);
    return bufs.back().get();
  }
};

inline void store(void* data, DType d, int64_t i, float v) {
  if (d == DType::F32) static_cast<float*>(data)[i] = v;
  else if (d == DType::BF16) static_cast<kernels::bf16*>(data)[i] = kernels::bf16(v);
  else if (d == DType::F16) static_cast<kernels::fp16*>(data)[i] = kernels::fp16(v);
}
inline uint32_t bits_at(const void* data, DType d, int64_t i) {
  if (d == DType::F32) {
    uint32_t u;
    std::memcpy(&u, static_cast<const float*>(data) + i, 4);
    return u;
  }
  return static_cast<const uint16_t*>(data)[i];
}
// The bits a correct load of element g stores into dtype `to` when the checkpoint held `from`.
inline uint32_t expected_bits(const std::string& name, int64_t g, DType from, DType to, int64_t step) {
  const float saved = rounded(from, value(name, g, step));
  uint32_t u = 0;
  if (to == DType::F32) std::memcpy(&u, &saved, 4);
  else if (to == DType::BF16) u = kernels::bf16(saved).bits;
  else u = kernels::fp16(saved).bits;
  return u;
}

// A piece of `name` (tp_rank of tp, local range [b, b+n)) filled with value() in dtype d.
inline Piece make_piece(Holder& h, const Spec& s, const std::string& name, DType d, int tp, int tp_rank, int64_t b,
                        int64_t n, int64_t step, bool fill = true) {
  Piece p;
  p.tensor = name;
  p.dtype = d;
  p.global_shape = s.shape;
  p.split = s.split;
  p.tp = tp;
  p.tp_rank = tp_rank;
  p.local_begin = b;
  p.count = n;
  p.data = h.alloc(size_t(n) * kernels::dtype_size(d));
  if (fill)
    for (int64_t i = 0; i < n; ++i)
      store(p.data, d, i, value(name, parallel::global_index(s.shape, s.split, tp, tp_rank, b + i), step));
  return p;
}

// What world rank w of a (dp x tp, ZeRO-1) layout saves: tp_rank = w % tp, dp_rank = w / tp.
//  - params (bf16): dp replica 0 saves its whole tp shard; replicated tensors only from tp_rank 0.
//  - master/moments (fp32): each dp rank saves its 1/dp share of the tp shard (possibly empty);
//    replicated tensors are saved by every tp rank (overlapping slices, as a lazy trainer would).
inline std::vector<Piece> rank_pieces(Holder& h, int w, int tp, int dp, int64_t step = 0) {
  const int tp_rank = w % tp, dp_rank = w / tp;
  std::vector<Piece> out;
  for (const Spec& s : specs()) {
    const int64_t n = parallel::local_shape(s.shape, s.split, tp).numel();
    for (const Group& g : groups()) {
      const std::string name = g.prefix + s.name;
      if (g.dtype == DType::BF16) {
        if (dp_rank == 0 && (s.split != Split::kReplicated || tp_rank == 0))
          out.push_back(make_piece(h, s, name, g.dtype, tp, tp_rank, 0, n, step));
      } else {
        const int64_t chunk = (n + dp - 1) / dp;
        const int64_t b = std::min(n, dp_rank * chunk), e = std::min(n, b + chunk);
        out.push_back(make_piece(h, s, name, g.dtype, tp, tp_rank, b, e - b, step));
      }
    }
  }
  return out;
}

// Requests for every tensor under layout tp (this tp_rank), the local shard cut into `parts`
// uneven ranges, each as dtype `as` (or the saved dtype when as_saved).
inline std::vector<Piece> requests(Holder& h, int tp, int tp_rank, int parts, bool as_saved, DType as) {
  std::vector<Piece> out;
  for (const Spec& s : specs())
    for (const Group& g : groups()) {
      const int64_t n = parallel::local_shape(s.shape, s.split, tp).numel();
      int64_t b = 0;
      for (int k = 0; k < parts; ++k) {
        const int64_t e = k == parts - 1 ? n : std::min(n, b + (n * (k + 1)) / (parts + 1) + 1);
        out.push_back(make_piece(h, s, g.prefix + s.name, as_saved ? g.dtype : as, tp, tp_rank, b, e - b, 0, false));
        b = e;
      }
    }
  return out;
}

inline DType saved_dtype(const std::string& name) {
  for (const Group& g : groups())
    if (name.rfind(g.prefix, 0) == 0) return g.dtype;
  return DType::F32;
}

// Every element of every request equals the formula's value, rounded as saved, converted as asked.
inline void expect_loaded(const std::vector<Piece>& reqs, int64_t step, const std::string& what) {
  for (const Piece& p : reqs) {
    const std::string name = p.tensor;
    const std::string base = name.substr(name.find('/') + 1);
    int bad = 0;
    for (int64_t i = 0; i < p.count && bad < 3; ++i) {
      const int64_t g = parallel::global_index(p.global_shape, p.split, p.tp, p.tp_rank, p.local_begin + i);
      const uint32_t want = expected_bits(name, g, saved_dtype(name), p.dtype, step);
      const uint32_t got = bits_at(p.data, p.dtype, i);
      if (got != want) {
        ++bad;
        ADD_FAILURE() << what << ": " << name << " tp " << p.tp << " rank " << p.tp_rank << " local "
                      << p.local_begin + i << " (global " << g << "): bits " << std::hex << got << ", expected "
                      << want << std::dec;
      }
    }
  }
}

inline checkpoint::RunState state_at(int64_t step, int dp = 2, int tp = 2) {
  checkpoint::RunState st;
  st.step = step;
  st.tokens = step * 4096;
  st.loss_scale = 32768.0 / 3.0;
  st.skipped_steps = 3;
  st.loader_epoch = 2;
  st.loader_position = 0xfedcba9876543ull;
  st.seed = -1337;
  st.dp = dp;
  st.tp = tp;
  st.zero = 1;
  st.config_yaml = "run: {name: test}\nmodel:\n  n_layer: 1\n";
  return st;
}

}  // namespace ckpt_test
