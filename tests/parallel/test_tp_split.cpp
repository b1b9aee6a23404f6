// tests/parallel/test_tp_split.cpp
// Shard index arithmetic: every global element is held by exactly one tp rank at exactly one local
// index (local_index inverts global_index), and the qkv split gives each rank its heads of q, k, v.
#include <gtest/gtest.h>

#include <vector>

#include "parallel/tp_split.h"

namespace {

using parallel::Split;

TEST(TpSplit, LocalIndexInvertsGlobalIndexForEverySplit) {
  const kernels::Shape shapes[] = {{12, 4}, {12}, {6, 8}};
  for (Split split : {Split::kRows, Split::kCols, Split::kQkvRows, Split::kReplicated})
    for (int tp : {1, 2}) {
      for (const kernels::Shape& g : shapes) {
        if (split == Split::kCols && g.ndim < 2) continue;
        std::vector<int> seen(size_t(g.numel()), 0);
        const int ranks = split == Split::kReplicated ? 1 : tp;
        for (int r = 0; r < ranks; ++r) {
          const kernels::Shape l = parallel::local_shape(g, split, tp);
          for (int64_t e = 0; e < l.numel(); ++e) {
            const int64_t gi = parallel::global_index(g, split, tp, r, e);
            ASSERT_GE(gi, 0);
            ASSERT_LT(gi, g.numel());
            ++seen[size_t(gi)];
            int back_r = -1;
            int64_t back_e = -1;
            parallel::local_index(g, split, tp, gi, &back_r, &back_e);
            EXPECT_EQ(back_r, r) << parallel::split_name(split) << " tp=" << tp << " g=" << gi;
            EXPECT_EQ(back_e, e) << parallel::split_name(split) << " tp=" << tp << " g=" << gi;
          }
        }
        for (int c : seen) EXPECT_EQ(c, 1) << parallel::split_name(split) << " tp=" << tp << " " << g.str();
      }
    }
}

TEST(TpSplit, QkvRowsGiveEachRankItsHeadsOfQKAndV) {
  // Global rows: q 0..3, k 4..7, v 8..11 (C=4); tp=2: rank 1 holds q rows 2,3, k rows 6,7, v 10,11.
  const kernels::Shape g{12, 1};
  std::vector<int64_t> rows;
  for (int64_t e = 0; e < 6; ++e) rows.push_back(parallel::global_index(g, Split::kQkvRows, 2, 1, e));
  EXPECT_EQ(rows, (std::vector<int64_t>{2, 3, 6, 7, 10, 11}));
  Split s;
  EXPECT_TRUE(parallel::parse_split("qkv_rows", &s));
  EXPECT_EQ(s, Split::kQkvRows);
  EXPECT_FALSE(parallel::parse_split("diagonal", &s));
}

}  // namespace
