// tests/kernels/test_vocab_parallel.cpp
// The vocab-parallel ops on one process: splitting the vocabulary into shards and combining the
// shard results the way parallel/tp_vocab.cpp does over a tp group (max, then sums) must give the
// unsplit embedding and softmax_xent, padded columns and ignored targets included.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/kernels/kernel_test_util.h"

namespace kernels::test {
namespace {

const Stream kS{};

TEST(VocabParallel, ShardedEmbeddingsSumToTheFullLookup) {
  const int64_t B = 2, T = 3, C = 4, V = 8, tp = 2;
  std::vector<int32_t> tok = {0, 7, 3, 4, 5, 1};
  std::vector<double> wte = randn(V * C, 1), wpe = randn(T * C, 2), full = zeros(B * T * C), sum = zeros(B * T * C);
  cpu_ops().embedding_forward(view(full, {B, T, C}), view(tok, {B, T}), view(wte, {V, C}), view(wpe, {T, C}), 0, kS);
  for (int64_t r = 0; r < tp; ++r) {
    std::vector<double> shard(wte.begin() + r * (V / tp) * C, wte.begin() + (r + 1) * (V / tp) * C), part = zeros(B * T * C);
    cpu_ops().embedding_forward(view(part, {B, T, C}), view(tok, {B, T}), view(shard, {V / tp, C}),
                                r == 0 ? view(wpe, {T, C}) : Tensor{}, int(r * (V / tp)), kS);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
    // Backward: each shard's rows get exactly the rows of the full gradient it owns.
    std::vector<double> dshard = zeros((V / tp) * C), dfull = zeros(V * C), dwpe = zeros(T * C);
    cpu_ops().embedding_backward(view(dshard, {V / tp, C}), Tensor{}, view(full, {B, T, C}), view(tok, {B, T}),
                                 int(r * (V / tp)), kS);
    cpu_ops().embedding_backward(view(dfull, {V, C}), view(dwpe, {T, C}), view(full, {B, T, C}), view(tok, {B, T}), 0, kS);
    for (int64_t i = 0; i < (V / tp) * C; ++i) EXPECT_EQ(dshard[size_t(i)], dfull[size_t(r * (V / tp) * C + i)]);
  }
  for (size_t i = 0; i < sum.size(); ++i) EXPECT_NEAR(sum[i], full[i], 1e-15) << i;
}

// Runs the three shard passes over `shards` equal column blocks, combining on the host.
void sharded_xent(std::vector<double>& logits, std::vector<int32_t>& tgt, int64_t N, int64_t V, int Vr, int shards,
                  double dloss, std::vector<double>& losses, std::vector<double>& dlogits) {
  const int64_t Vs = V / shards;
  std::vector<std::vector<double>> blocks(static_cast<size_t>(shards));
  for (int r = 0; r < shards; ++r)
    for (int64_t n = 0; n < N; ++n)
      blocks[size_t(r)].insert(blocks[size_t(r)].end(), logits.begin() + n * V + r * Vs, logits.begin() + n * V + (r + 1) * Vs);
  std::vector<double> gmax(size_t(N), -std::numeric_limits<double>::infinity()), gsum = zeros(N), gtl = zeros(N);
  for (int r = 0; r < shards; ++r) {
    std::vector<double> m = zeros(N);
    cpu_ops().xent_shard_max(view(m, {N}), view(blocks[size_t(r)], {N, Vs}), int(r * Vs), Vr, kS);
    for (int64_t n = 0; n < N; ++n) gmax[size_t(n)] = std::max(gmax[size_t(n)], m[size_t(n)]);  // all_reduce max
  }
  for (int r = 0; r < shards; ++r) {
    std::vector<double> s = zeros(N), tl = zeros(N);
    cpu_ops().xent_shard_sumexp(view(s, {N}), view(tl, {N}), view(blocks[size_t(r)], {N, Vs}), view(tgt, {N}),
                                view(gmax, {N}), int(r * Vs), Vr, kS);
    for (int64_t n = 0; n < N; ++n) gsum[size_t(n)] += s[size_t(n)], gtl[size_t(n)] += tl[size_t(n)];  // all_reduce sum
  }
  losses.assign(size_t(N), 0);
  dlogits.assign(size_t(N * V), 0);
  for (int r = 0; r < shards; ++r) {
    std::vector<double> l = zeros(N), d = zeros(N * Vs);
    cpu_ops().xent_shard_finish(view(l, {N}), view(d, {N, Vs}), view(blocks[size_t(r)], {N, Vs}), view(tgt, {N}),
                                view(gmax, {N}), view(gsum, {N}), view(gtl, {N}), int(r * Vs), Vr, float(dloss), kS);
    for (int64_t n = 0; n < N; ++n) {
      EXPECT_EQ(l[size_t(n)], r == 0 ? l[size_t(n)] : losses[size_t(n)]) << "every shard computes the same loss";
      losses[size_t(n)] = l[size_t(n)];
      for (int64_t c = 0; c < Vs; ++c) dlogits[size_t(n * V + r * Vs + c)] = d[size_t(n * Vs + c)];
    }
  }
}

TEST(VocabParallel, ShardedCrossEntropyEqualsTheFusedOne) {
  const int64_t N = 5, V = 12;
  const int Vr = 10;  // the last shard holds two padded columns
  std::vector<double> logits = randn(N * V, 3, 2.0);
  std::vector<int32_t> tgt = {0, 9, -1, 4, 7};  // one ignored row
  std::vector<double> ref_loss = zeros(N), ref_d = zeros(N * V);
  cpu_ops().softmax_xent(view(ref_loss, {N}), view(ref_d, {N, V}), view(logits, {N, V}), view(tgt, {N}), Vr, 0.25f, kS);
  for (int shards : {1, 2, 3, 4}) {
    std::vector<double> loss, d;
    sharded_xent(logits, tgt, N, V, Vr, shards, 0.25, loss, d);
    for (int64_t n = 0; n < N; ++n) EXPECT_NEAR(loss[size_t(n)], ref_loss[size_t(n)], 1e-13) << shards << " shards, row " << n;
    for (int64_t i = 0; i < N * V; ++i) EXPECT_NEAR(d[size_t(i)], ref_d[size_t(i)], 1e-14) << shards << " shards, i " << i;
    EXPECT_EQ(loss[2], 0.0);
    for (int64_t c = Vr; c < V; ++c) EXPECT_EQ(d[size_t(N - 1) * V + size_t(c)], 0.0) << "padded column " << c;
  }
}

}  // namespace
}  // namespace kernels::test
