// kernels/op_checks.cpp
// The backend-neutral argument checks of every op (see op_checks.h for what is and is not here).
// Messages name the op and the argument as kernels/ops.h does, e.g.
//   "layernorm_forward: weight has shape (96), expected (64)".
#include "kernels/op_checks.h"

#include <cmath>

#include "kernels/segments.h"

namespace kernels {

void check_shape(const char* op, const char* name, const Tensor& t, Shape want) {
  KILN_CHECK(t.shape == want, op_msg(op, std::string(name) + " has shape " + t.shape.str() + ", expected " + want.str()));
}

void check_numel(const char* op, const char* name, const Tensor& t, int64_t want) {
  KILN_CHECK(t.numel() == want, op_msg(op, std::string(name) + " has " + std::to_string(t.numel()) + " elements " +
                                               t.shape.str() + ", expected " + std::to_string(want)));
}

void check_device(const char* op, const char* name, const Tensor& t, Device dev) {
  if (t.empty()) return;
  KILN_CHECK(t.device == dev,
             op_msg(op, std::string(name) + (dev == Device::kCpu
                                                 ? " is on the GPU; the CPU backend needs host tensors"
                                                 : " is in host memory; the CUDA backend needs device tensors")));
}

void check_present(const char* op, const char* name, const Tensor& t, Device dev) {
  KILN_CHECK(!t.empty(), op_msg(op, std::string(name) + " is required but empty"));
  check_device(op, name, t, dev);
}

void check_present(const char* op, std::initializer_list<NamedTensor> ts, Device dev) {
  for (const NamedTensor& n : ts) check_present(op, n.name, *n.t, dev);
}

void check_int32(const char* op, const char* name, const Tensor& t, Device dev) {
  check_present(op, name, t, dev);
  KILN_CHECK(t.dtype == DType::I32, op_msg(op, std::string(name) + " must be int32, got " + dtype_name(t.dtype)));
}

void check_alias_or_disjoint(const char* op, const char* out_name, const Tensor& out, const char* in_name,
                             const Tensor& in) {
  const char *o = static_cast<const char*>(out.data), *i = static_cast<const char*>(in.data);
  KILN_CHECK(o == i || o + out.nbytes() <= i || i + in.nbytes() <= o,
             op_msg(op, std::string(out_name) + " must either alias " + in_name + " exactly or not overlap it"));
}

void check_disjoint(const char* op, const char* out_name, const Tensor& out, const char* in_name, const Tensor& in) {
  const char *o = static_cast<const char*>(out.data), *i = static_cast<const char*>(in.data);
  KILN_CHECK(o + out.nbytes() <= i || i + in.nbytes() <= o,
             op_msg(op, std::string(out_name) + " must not overlap " + in_name));
}

namespace {

// tokens (B,T) int32.
void check_tokens(const char* op, const Tensor& tokens, Device dev) {
  check_int32(op, "tokens", tokens, dev);
  KILN_CHECK(tokens.shape.ndim == 2, op_msg(op, "tokens must be (B, T), got " + tokens.shape.str()));
}

// x is (N,C) or (B,T,C): C is the last dimension, N everything before it.
RowDims rows_of(const char* op, const char* name, const Tensor& x) {
  KILN_CHECK(x.shape.ndim >= 2, op_msg(op, std::string(name) + " must have at least 2 dims (N, C), got " + x.shape.str()));
  const int64_t C = last_dim(x);
  return {C ? x.numel() / C : 0, C};
}

// inp (N,IC) or (B,T,IC) and weight (OC,IC).
LinearDims check_linear(const char* op, const Tensor& inp, const Tensor& weight) {
  KILN_CHECK(inp.shape.ndim >= 2, op_msg(op, "inp must be (N, IC) or (B, T, IC), got " + inp.shape.str()));
  KILN_CHECK(weight.shape.ndim == 2, op_msg(op, "weight must be (OC, IC), got " + weight.shape.str()));
  LinearDims d;
  d.IC = last_dim(inp);
  d.N = d.IC ? inp.numel() / d.IC : 0;
  d.OC = weight.dim(0);
  KILN_CHECK(weight.dim(1) == d.IC, op_msg(op, "weight " + weight.shape.str() + " does not take IC=" +
                                                   std::to_string(d.IC) + " inputs (inp " + inp.shape.str() + ")"));
  return d;
}

// An (N, cols) tensor given as (N, cols) or (B, T, cols).
void check_rows(const char* op, const char* name, const Tensor& t, int64_t N, int64_t cols) {
  KILN_CHECK(t.shape.ndim >= 2 && last_dim(t) == cols && t.numel() == N * cols,
             op_msg(op, std::string(name) + " has shape " + t.shape.str() + ", expected " + std::to_string(N) +
                            " rows of " + std::to_string(cols)));
}

// The head counts of grouped-query attention: NKV >= 1 key/value heads shared by groups of NH/NKV
// query heads.
void check_heads(const char* op, int n_head, int n_kv_head) {
  KILN_CHECK(n_head > 0 && n_kv_head > 0 && n_head % n_kv_head == 0,
             op_msg(op, "n_head=" + std::to_string(n_head) + " must be a positive multiple of n_kv_head=" +
                            std::to_string(n_kv_head)));
}

// The head size of a row of `width` = (NH + 2*NKV)*hs channels (q|k|v).
int64_t head_size(const char* op, const char* name, const Tensor& t, int64_t width, int n_head, int n_kv_head) {
  const int64_t heads = int64_t(n_head) + 2 * int64_t(n_kv_head);
  KILN_CHECK(width % heads == 0,
             op_msg(op, std::string(name) + " " + t.shape.str() + ": width " + std::to_string(width) +
                            " is not (n_head + 2*n_kv_head) = " + std::to_string(heads) + " heads of equal size"));
  return width / heads;
}

// qkv (B,T,(NH+2*NKV)*hs).
AttentionDims check_qkv(const char* op, const Tensor& qkv, int n_head, int n_kv_head) {
  check_heads(op, n_head, n_kv_head);
  KILN_CHECK(qkv.shape.ndim == 3,
             op_msg(op, "qkv must be (B, T, (n_head + 2*n_kv_head) * hs), got " + qkv.shape.str()));
  AttentionDims d;
  d.B = qkv.dim(0);
  d.T = qkv.dim(1);
  d.W = qkv.dim(2);
  d.NH = n_head;
  d.NKV = n_kv_head;
  d.hs = head_size(op, "qkv", qkv, d.W, n_head, n_kv_head);
  d.C = d.NH * d.hs;
  return d;
}

// logits (N, V) or (B, T, V); every per-row tensor present, on dev, with N entries.
RowDims check_logit_rows(const char* op, const Tensor& logits, std::initializer_list<NamedTensor> rows, Device dev) {
  check_present(op, "logits", logits, dev);
  KILN_CHECK(logits.shape.ndim >= 2, op_msg(op, "logits must be (N, V) or (B, T, V), got " + logits.shape.str()));
  const int64_t V = last_dim(logits);
  const RowDims d{V ? logits.numel() / V : 0, V};
  for (const NamedTensor& r : rows) {
    check_present(op, r.name, *r.t, dev);
    check_numel(op, r.name, *r.t, d.N);
  }
  return d;
}

// dlogits, when given, replaces logits in place or lies elsewhere: (N, V) like logits.
void check_dlogits(const char* op, const Tensor& dlogits, const Tensor& logits, Device dev) {
  if (dlogits.empty()) return;
  check_device(op, "dlogits", dlogits, dev);
  check_shape(op, "dlogits", dlogits, logits.shape);
  check_alias_or_disjoint(op, "dlogits", dlogits, "logits", logits);
}

}  // namespace

EmbeddingDims check_embedding_forward(Device dev, const Tensor& out, const Tensor& tokens, const Tensor& wte,
                                      const Tensor& wpe) {
  const char* op = "embedding_forward";
  check_present(op, {{"out", &out}, {"wte", &wte}}, dev);
  KILN_CHECK(wte.shape.ndim == 2, op_msg(op, "wte must be 2-D (rows, C)"));
  check_tokens(op, tokens, dev);
  const EmbeddingDims d{tokens.dim(0), tokens.dim(1), wte.dim(1), wte.dim(0)};
  if (!wpe.empty()) {
    check_device(op, "wpe", wpe, dev);
    KILN_CHECK(wpe.shape.ndim == 2 && wpe.dim(1) == d.C,
               op_msg(op, "wpe " + wpe.shape.str() + " must be (rows, " + std::to_string(d.C) + ")"));
    KILN_CHECK(wpe.dim(0) >= d.T, op_msg(op, "sequence length " + std::to_string(d.T) + " exceeds wpe rows " +
                                                 std::to_string(wpe.dim(0))));
  }
  check_shape(op, "out", out, {d.B, d.T, d.C});
  return d;
}

EmbeddingDims check_embedding_backward(Device dev, const Tensor& dwte, const Tensor& dwpe, const Tensor& dout,
                                       const Tensor& tokens) {
  const char* op = "embedding_backward";
  check_present(op, {{"dwte", &dwte}, {"dout", &dout}}, dev);
  KILN_CHECK(dwte.shape.ndim == 2, op_msg(op, "dwte must be 2-D (rows, C)"));
  check_tokens(op, tokens, dev);
  const EmbeddingDims d{tokens.dim(0), tokens.dim(1), dwte.dim(1), dwte.dim(0)};
  if (!dwpe.empty()) {
    check_device(op, "dwpe", dwpe, dev);
    KILN_CHECK(dwpe.shape.ndim == 2 && dwpe.dim(1) == d.C && dwpe.dim(0) >= d.T,
               op_msg(op, "dwpe " + dwpe.shape.str() + " does not fit T=" + std::to_string(d.T) +
                              ", C=" + std::to_string(d.C)));
  }
  check_shape(op, "dout", dout, {d.B, d.T, d.C});
  return d;
}

namespace {
// LayerNorm forward's rules for op `op` (plain, or the normalising half of the fused form).
RowDims check_layernorm_rows(const char* op, Device dev, const Tensor& out, const Tensor& mean, const Tensor& rstd,
                             const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_present(op, {{"out", &out}, {"mean", &mean}, {"rstd", &rstd}, {"x", &x}, {"weight", &weight}, {"bias", &bias}},
                dev);
  const RowDims d = rows_of(op, "x", x);
  check_shape(op, "out", out, x.shape);
  check_numel(op, "mean", mean, d.N);
  check_numel(op, "rstd", rstd, d.N);
  check_shape(op, "weight", weight, {d.C});
  check_shape(op, "bias", bias, {d.C});
  return d;
}
}  // namespace

RowDims check_layernorm_forward(Device dev, const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                                const Tensor& weight, const Tensor& bias) {
  return check_layernorm_rows("layernorm_forward", dev, out, mean, rstd, x, weight, bias);
}

RowDims check_residual_layernorm_forward(Device dev, const Tensor& sum, const Tensor& out, const Tensor& mean,
                                         const Tensor& rstd, const Tensor& a, const Tensor& b, const Tensor& weight,
                                         const Tensor& bias) {
  const char* op = "residual_layernorm_forward";
  check_present(op, {{"sum", &sum}, {"a", &a}, {"b", &b}}, dev);
  check_shape(op, "b", b, a.shape);
  check_shape(op, "sum", sum, a.shape);
  // sum may replace a or b in place (the residual stream); out is read from sum, so it stands apart.
  check_alias_or_disjoint(op, "sum", sum, "a", a);
  check_alias_or_disjoint(op, "sum", sum, "b", b);
  for (const NamedTensor& in : {NamedTensor{"sum", &sum}, NamedTensor{"a", &a}, NamedTensor{"b", &b}})
    check_disjoint(op, "out", out, in.name, *in.t);
  // The LayerNorm half: its own rules, on sum as x.
  return check_layernorm_rows(op, dev, out, mean, rstd, sum, weight, bias);
}

RowDims check_layernorm_backward(Device dev, const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                                 const Tensor& dout, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                 const Tensor& rstd) {
  const char* op = "layernorm_backward";
  check_present(op,
                {{"dx", &dx}, {"dweight", &dweight}, {"dbias", &dbias}, {"dout", &dout}, {"x", &x}, {"weight", &weight},
                 {"mean", &mean}, {"rstd", &rstd}},
                dev);
  const RowDims d = rows_of(op, "x", x);
  check_shape(op, "dx", dx, x.shape);
  check_shape(op, "dout", dout, x.shape);
  check_shape(op, "weight", weight, {d.C});
  check_shape(op, "dweight", dweight, {d.C});
  check_shape(op, "dbias", dbias, {d.C});
  check_numel(op, "mean", mean, d.N);
  check_numel(op, "rstd", rstd, d.N);
  return d;
}

LinearDims check_matmul_forward(Device dev, const Tensor& out, const Tensor& inp, const Tensor& weight,
                                const Tensor& bias) {
  const char* op = "matmul_forward";
  check_present(op, {{"out", &out}, {"inp", &inp}, {"weight", &weight}}, dev);
  const LinearDims d = check_linear(op, inp, weight);
  check_rows(op, "out", out, d.N, d.OC);
  if (!bias.empty()) {
    check_device(op, "bias", bias, dev);
    check_shape(op, "bias", bias, {d.OC});
  }
  return d;
}

LinearDims check_matmul_backward(Device dev, const Tensor& dinp, const Tensor& dweight, const Tensor& dbias,
                                 const Tensor& dout, const Tensor& inp, const Tensor& weight) {
  const char* op = "matmul_backward";
  check_present(op, {{"dweight", &dweight}, {"dout", &dout}, {"inp", &inp}, {"weight", &weight}}, dev);
  const LinearDims d = check_linear(op, inp, weight);
  check_rows(op, "dout", dout, d.N, d.OC);
  check_shape(op, "dweight", dweight, weight.shape);
  if (!dinp.empty()) {
    check_device(op, "dinp", dinp, dev);
    check_rows(op, "dinp", dinp, d.N, d.IC);
  }
  if (!dbias.empty()) {
    check_device(op, "dbias", dbias, dev);
    check_shape(op, "dbias", dbias, {d.OC});
  }
  return d;
}

AttentionDims check_attention_forward(Device dev, const Tensor& out, const Tensor& lse, const Tensor& qkv, int n_head,
                                      int n_kv_head) {
  const char* op = "attention_forward";
  check_present(op, {{"out", &out}, {"lse", &lse}, {"qkv", &qkv}}, dev);
  const AttentionDims d = check_qkv(op, qkv, n_head, n_kv_head);
  check_shape(op, "out", out, {d.B, d.T, d.C});
  check_shape(op, "lse", lse, {d.B, d.NH, d.T});
  return d;
}

AttentionDims check_attention_backward(Device dev, const Tensor& dqkv, const Tensor& dout, const Tensor& qkv,
                                       const Tensor& out, const Tensor& lse, int n_head, int n_kv_head) {
  const char* op = "attention_backward";
  check_present(op, {{"dqkv", &dqkv}, {"dout", &dout}, {"qkv", &qkv}, {"out", &out}, {"lse", &lse}}, dev);
  const AttentionDims d = check_qkv(op, qkv, n_head, n_kv_head);
  check_shape(op, "dqkv", dqkv, qkv.shape);
  check_shape(op, "dout", dout, {d.B, d.T, d.C});
  check_shape(op, "out", out, {d.B, d.T, d.C});
  check_shape(op, "lse", lse, {d.B, d.NH, d.T});
  return d;
}

AttentionDims check_attention_cached_forward(Device dev, const Tensor& out, const Tensor& qkv, const Tensor& k_cache,
                                             const Tensor& v_cache, int pos0, int n_head, int n_kv_head) {
  const char* op = "attention_cached_forward";
  check_present(op, {{"out", &out}, {"qkv", &qkv}, {"k_cache", &k_cache}, {"v_cache", &v_cache}}, dev);
  check_heads(op, n_head, n_kv_head);
  KILN_CHECK(qkv.shape.ndim == 2, op_msg(op, "qkv must be (n, (n_head + 2*n_kv_head) * hs), got " + qkv.shape.str()));
  AttentionDims d;
  d.B = 1;
  d.T = qkv.dim(0);
  d.W = qkv.dim(1);
  d.NH = n_head;
  d.NKV = n_kv_head;
  d.hs = head_size(op, "qkv", qkv, d.W, n_head, n_kv_head);
  d.C = d.NH * d.hs;
  const int64_t kv_width = d.NKV * d.hs;
  KILN_CHECK(k_cache.shape.ndim == 2 && k_cache.dim(1) == kv_width,
             op_msg(op, "k_cache must be (maxT, n_kv_head * hs = " + std::to_string(kv_width) + "), got " +
                            k_cache.shape.str()));
  check_shape(op, "v_cache", v_cache, k_cache.shape);
  check_shape(op, "out", out, {d.T, d.C});
  KILN_CHECK(pos0 >= 0 && pos0 + d.T <= k_cache.dim(0),
             op_msg(op, "positions " + std::to_string(pos0) + ".." + std::to_string(pos0 + d.T - 1) +
                            " do not fit the cache of " + std::to_string(k_cache.dim(0))));
  return d;
}

namespace {
void check_eps(const char* op, float eps) {
  KILN_CHECK(eps > 0.f && std::isfinite(eps),
             op_msg(op, "eps must be a finite number > 0, got " + std::to_string(eps)));
}
}  // namespace

RowDims check_rmsnorm_forward(Device dev, const Tensor& out, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                              float eps) {
  const char* op = "rmsnorm_forward";
  check_present(op, {{"out", &out}, {"rstd", &rstd}, {"x", &x}, {"weight", &weight}}, dev);
  check_eps(op, eps);
  const RowDims d = rows_of(op, "x", x);
  check_shape(op, "out", out, x.shape);
  check_numel(op, "rstd", rstd, d.N);
  check_shape(op, "weight", weight, {d.C});
  return d;
}

RowDims check_residual_rmsnorm_forward(Device dev, const Tensor& sum, const Tensor& out, const Tensor& rstd,
                                       const Tensor& a, const Tensor& b, const Tensor& weight, float eps) {
  const char* op = "residual_rmsnorm_forward";
  check_present(op, {{"sum", &sum}, {"out", &out}, {"rstd", &rstd}, {"a", &a}, {"b", &b}, {"weight", &weight}}, dev);
  check_eps(op, eps);
  const RowDims d = rows_of(op, "a", a);
  check_shape(op, "b", b, a.shape);
  check_shape(op, "sum", sum, a.shape);
  check_shape(op, "out", out, a.shape);
  check_numel(op, "rstd", rstd, d.N);
  check_shape(op, "weight", weight, {d.C});
  // sum may replace a or b in place (the residual stream); out is read from sum, so it stands apart.
  check_alias_or_disjoint(op, "sum", sum, "a", a);
  check_alias_or_disjoint(op, "sum", sum, "b", b);
  for (const NamedTensor& in : {NamedTensor{"sum", &sum}, NamedTensor{"a", &a}, NamedTensor{"b", &b}})
    check_disjoint(op, "out", out, in.name, *in.t);
  return d;
}

RowDims check_rmsnorm_backward(Device dev, const Tensor& dx, const Tensor& dweight, const Tensor& dout, const Tensor& x,
                               const Tensor& weight, const Tensor& rstd) {
  const char* op = "rmsnorm_backward";
  check_present(op,
                {{"dx", &dx}, {"dweight", &dweight}, {"dout", &dout}, {"x", &x}, {"weight", &weight}, {"rstd", &rstd}},
                dev);
  const RowDims d = rows_of(op, "x", x);
  check_shape(op, "dx", dx, x.shape);
  check_shape(op, "dout", dout, x.shape);
  check_shape(op, "weight", weight, {d.C});
  check_shape(op, "dweight", dweight, {d.C});
  check_numel(op, "rstd", rstd, d.N);
  return d;
}

namespace {
AttentionDims check_rope(const char* op, Device dev, const char* name, const Tensor& qkv, int n_head, int n_kv_head,
                         int pos0, float theta) {
  check_present(op, name, qkv, dev);
  const AttentionDims d = check_qkv(op, qkv, n_head, n_kv_head);
  KILN_CHECK(d.hs % 2 == 0, op_msg(op, "head size " + std::to_string(d.hs) + " must be even (channels rotate in pairs)"));
  KILN_CHECK(pos0 >= 0, op_msg(op, "pos0 must be >= 0, got " + std::to_string(pos0)));
  KILN_CHECK(theta > 0.f && std::isfinite(theta),
             op_msg(op, "theta must be a finite number > 0, got " + std::to_string(theta)));
  return d;
}
}  // namespace

AttentionDims check_rope_forward(Device dev, const Tensor& qkv, int n_head, int n_kv_head, int pos0, float theta) {
  return check_rope("rope_forward", dev, "qkv", qkv, n_head, n_kv_head, pos0, theta);
}

AttentionDims check_rope_backward(Device dev, const Tensor& dqkv, int n_head, int n_kv_head, int pos0, float theta) {
  return check_rope("rope_backward", dev, "dqkv", dqkv, n_head, n_kv_head, pos0, theta);
}

namespace {
// inp (N, 2F) = [gate | up] rows; returns {N, F}.
RowDims check_gate_up(const char* op, const char* name, const Tensor& inp) {
  const RowDims d = rows_of(op, name, inp);
  KILN_CHECK(d.C % 2 == 0, op_msg(op, std::string(name) + " " + inp.shape.str() +
                                          " must hold [gate | up] rows of even width 2F"));
  return {d.N, d.C / 2};
}
}  // namespace

RowDims check_swiglu_forward(Device dev, const Tensor& out, const Tensor& inp) {
  const char* op = "swiglu_forward";
  check_present(op, {{"out", &out}, {"inp", &inp}}, dev);
  const RowDims d = check_gate_up(op, "inp", inp);
  check_rows(op, "out", out, d.N, d.C);
  check_disjoint(op, "out", out, "inp", inp);
  return d;
}

RowDims check_swiglu_backward(Device dev, const Tensor& dinp, const Tensor& dout, const Tensor& inp) {
  const char* op = "swiglu_backward";
  check_present(op, {{"dinp", &dinp}, {"dout", &dout}, {"inp", &inp}}, dev);
  const RowDims d = check_gate_up(op, "inp", inp);
  check_shape(op, "dinp", dinp, inp.shape);
  check_rows(op, "dout", dout, d.N, d.C);
  // Each element pair is read before it is written, so dinp may replace inp in place.
  check_alias_or_disjoint(op, "dinp", dinp, "inp", inp);
  check_disjoint(op, "dinp", dinp, "dout", dout);
  return d;
}

int64_t check_gelu_forward(Device dev, const Tensor& out, const Tensor& inp) {
  const char* op = "gelu_forward";
  check_present(op, {{"out", &out}, {"inp", &inp}}, dev);
  check_numel(op, "out", out, inp.numel());
  return inp.numel();
}

int64_t check_gelu_backward(Device dev, const Tensor& dinp, const Tensor& dout, const Tensor& inp) {
  const char* op = "gelu_backward";
  check_present(op, {{"dinp", &dinp}, {"dout", &dout}, {"inp", &inp}}, dev);
  check_numel(op, "dinp", dinp, inp.numel());
  check_numel(op, "dout", dout, inp.numel());
  return inp.numel();
}

int64_t check_residual_forward(Device dev, const Tensor& out, const Tensor& a, const Tensor& b) {
  const char* op = "residual_forward";
  check_present(op, {{"out", &out}, {"a", &a}, {"b", &b}}, dev);
  check_numel(op, "b", b, a.numel());
  check_numel(op, "out", out, a.numel());
  return a.numel();
}

RowDims check_softmax_xent(Device dev, const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                           const Tensor& targets, int vocab_real) {
  const char* op = "softmax_xent";
  check_int32(op, "targets", targets, dev);
  const RowDims d = check_logit_rows(op, logits, {{"targets", &targets}, {"losses", &losses}}, dev);
  KILN_CHECK(vocab_real > 0 && vocab_real <= d.C, op_msg(op, "vocab_real=" + std::to_string(vocab_real) +
                                                                 " must be in [1, V=" + std::to_string(d.C) + "]"));
  check_dlogits(op, dlogits, logits, dev);
  return d;
}

RowDims check_xent_shard_max(Device dev, const Tensor& row_max, const Tensor& logits) {
  return check_logit_rows("xent_shard_max", logits, {{"row_max", &row_max}}, dev);
}

RowDims check_xent_shard_sumexp(Device dev, const Tensor& row_sumexp, const Tensor& target_logit, const Tensor& logits,
                                const Tensor& targets, const Tensor& row_max) {
  const char* op = "xent_shard_sumexp";
  check_int32(op, "targets", targets, dev);
  return check_logit_rows(
      op, logits,
      {{"row_sumexp", &row_sumexp}, {"target_logit", &target_logit}, {"row_max", &row_max}, {"targets", &targets}}, dev);
}

RowDims check_xent_shard_finish(Device dev, const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                const Tensor& targets, const Tensor& row_max, const Tensor& row_sumexp,
                                const Tensor& target_logit) {
  const char* op = "xent_shard_finish";
  check_int32(op, "targets", targets, dev);
  const RowDims d = check_logit_rows(op, logits,
                                     {{"losses", &losses},
                                      {"row_max", &row_max},
                                      {"row_sumexp", &row_sumexp},
                                      {"target_logit", &target_logit},
                                      {"targets", &targets}},
                                     dev);
  check_dlogits(op, dlogits, logits, dev);
  return d;
}

namespace {

// The tensors and step of an AdamW update, single- or multi-tensor (named `op` in messages).
int64_t check_adamw_tensors(const char* op, Device dev, const Tensor& master, const Tensor& compute, const Tensor& grad,
                            const Tensor& m, const Tensor& v, const AdamWArgs& args) {
  check_present(op, {{"master", &master}, {"grad", &grad}, {"m", &m}, {"v", &v}}, dev);
  const int64_t n = master.numel();
  check_numel(op, "grad", grad, n);
  check_numel(op, "m", m, n);
  check_numel(op, "v", v, n);
  KILN_CHECK(args.step >= 1, op_msg(op, "args.step is 1-based, got " + std::to_string(args.step)));
  if (!compute.empty()) {
    check_device(op, "compute", compute, dev);
    check_numel(op, "compute", compute, n);
  }
  return n;
}

}  // namespace

int64_t check_adamw_update(Device dev, const Tensor& master, const Tensor& compute, const Tensor& grad, const Tensor& m,
                           const Tensor& v, const AdamWArgs& args) {
  return check_adamw_tensors("adamw_update", dev, master, compute, grad, m, v, args);
}

int64_t check_sum_squares(Device dev, const Tensor& out, const Tensor& x) {
  const char* op = "sum_squares";
  check_present(op, {{"out", &out}, {"x", &x}}, dev);
  check_numel(op, "out", out, 1);
  return x.numel();
}

int64_t check_loss_mean_accumulate(Device dev, const Tensor& acc, const Tensor& losses, double count, double divisor) {
  const char* op = "loss_mean_accumulate";
  check_present(op, {{"acc", &acc}, {"losses", &losses}}, dev);
  check_numel(op, "acc", acc, 1);
  KILN_CHECK(acc.dtype == DType::F64, op_msg(op, std::string("acc must be fp64, got ") + dtype_name(acc.dtype)));
  KILN_CHECK(losses.dtype == DType::F32 || (losses.dtype == DType::F64 && dev == Device::kCpu),
             op_msg(op, std::string("losses must be fp32 (or fp64 on the CPU), got ") + dtype_name(losses.dtype)));
  KILN_CHECK(count >= 0 && divisor > 0, op_msg(op, "count must be >= 0 and divisor > 0"));
  return losses.numel();
}

int64_t check_adamw_update_multi(Device dev, const Tensor& master, const Tensor& compute, const Tensor& grad,
                                 const Tensor& m, const Tensor& v, const Tensor& segments, const AdamWArgs& args,
                                 int64_t* rows) {
  const char* op = "adamw_update_multi";
  const int64_t n = check_adamw_tensors(op, dev, master, compute, grad, m, v, args);
  *rows = check_segment_table_shape(op, segments, dev);
  return n;
}

int64_t check_sum_squares_multi(Device dev, const Tensor& out, const Tensor& x, const Tensor& segments, int64_t* rows) {
  const char* op = "sum_squares_multi";
  check_present(op, {{"out", &out}, {"x", &x}}, dev);
  KILN_CHECK(out.numel() == 1 || out.numel() == 2,
             op_msg(op, "out must hold 1 or 2 sums (one per flag), got " + out.shape.str()));
  *rows = check_segment_table_shape(op, segments, dev);
  return x.numel();
}

int64_t check_cast(Device dev, const Tensor& dst, const Tensor& src) {
  const char* op = "cast";
  check_present(op, {{"dst", &dst}, {"src", &src}}, dev);
  check_numel(op, "dst", dst, src.numel());
  KILN_CHECK(dtype_is_float(src.dtype) && dtype_is_float(dst.dtype),
             op_msg(op, std::string("float dtypes only, got ") + dtype_name(src.dtype) + " -> " + dtype_name(dst.dtype)));
  const char *d0 = static_cast<const char*>(dst.data), *s0 = static_cast<const char*>(src.data);
  KILN_CHECK(dst.dtype == src.dtype || d0 + dst.nbytes() <= s0 || s0 + src.nbytes() <= d0,
             op_msg(op, "dst and src overlap; an in-place cast between dtypes is not supported"));
  return src.numel();
}

}  // namespace kernels
