// parallel/tp_split.cpp
#include "parallel/tp_split.h"

#include <cstring>

namespace parallel {

const char* split_name(Split s) {
  switch (s) {
    case Split::kReplicated: return "replicated";
    case Split::kRows: return "rows";
    case Split::kCols: return "cols";
    case Split::kQkvRows: return "qkv_rows";
  }
  return "?";
}

bool parse_split(const char* name, Split* out) {
  for (Split s : {Split::kReplicated, Split::kRows, Split::kCols, Split::kQkvRows})
    if (std::strcmp(name, split_name(s)) == 0) {
      *out = s;
      return true;
    }
  return false;
}

kernels::Shape local_shape(kernels::Shape global, Split split, int tp) {
  kernels::Shape l = global;
  switch (split) {
    case Split::kReplicated: break;
    case Split::kRows: case Split::kQkvRows: l.dims[0] /= tp; break;
    case Split::kCols: l.dims[1] /= tp; break;
  }
  return l;
}

int64_t global_index(kernels::Shape global, Split split, int tp, int tp_rank, int64_t e) {
  if (split == Split::kReplicated || tp == 1) return e;
  const kernels::Shape l = local_shape(global, split, tp);
  const int64_t row_len = l.ndim > 1 ? l.numel() / l[0] : 1;
  const int64_t lr = e / row_len, lc = e % row_len;
  switch (split) {
    case Split::kRows: return (tp_rank * l[0] + lr) * row_len + lc;
    case Split::kQkvRows: {
      const int64_t per = l[0] / 3;  // this rank's rows of each of q, k, v
      const int64_t block = lr / per, within = lr % per;
      return (block * (global[0] / 3) + tp_rank * per + within) * row_len + lc;
    }
    case Split::kCols: return lr * global[1] + tp_rank * l[1] + lc;
    case Split::kReplicated: break;
  }
  return e;
}

void local_index(kernels::Shape global, Split split, int tp, int64_t g, int* tp_rank, int64_t* e) {
  if (split == Split::kReplicated || tp == 1) {
    *tp_rank = 0;
    *e = g;
    return;
  }
  const kernels::Shape l = local_shape(global, split, tp);
  const int64_t row_len = global.ndim > 1 ? global.numel() / global[0] : 1;
  const int64_t gr = g / row_len, gc = g % row_len;
  switch (split) {
    case Split::kRows:
      *tp_rank = int(gr / l[0]);
      *e = (gr % l[0]) * row_len + gc;
      return;
    case Split::kQkvRows: {
      const int64_t third = global[0] / 3, per = l[0] / 3;
      const int64_t block = gr / third, in_block = gr % third;
      *tp_rank = int(in_block / per);
      *e = (block * per + in_block % per) * row_len + gc;
      return;
    }
    case Split::kCols:
      *tp_rank = int(gc / l[1]);
      *e = gr * l[1] + gc % l[1];
      return;
    case Split::kReplicated: break;
  }
}

}  // namespace parallel
