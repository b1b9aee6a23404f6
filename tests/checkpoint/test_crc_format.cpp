// tests/checkpoint/test_crc_format.cpp
// CRC32C against published vectors and across its three implementations; names on disk; and the
// contiguous-run arithmetic that load() relies on, checked against parallel::global_index.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/internal.h"
#include "ckpt_test.h"

namespace {

using namespace checkpoint::detail;

TEST(Crc32c, KnownVectors) {
  const std::string digits = "123456789";
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) inc[i] = uint8_t(i), dec[i] = uint8_t(31 - i);
  // RFC 3720 (iSCSI) B.4 test vectors, and the classic check value.
  struct V {
    const void* p;
    size_t n;
    uint32_t want;
  } vs[] = {{digits.data(), digits.size(), 0xE3069283u}, {zeros.data(), 32, 0x8A9136AAu},
            {ones.data(), 32, 0x62A8AB43u},              {inc.data(), 32, 0x46DD794Eu},
            {dec.data(), 32, 0x113FDB5Cu},               {nullptr, 0, 0u}};
  for (const V& v : vs) {
    EXPECT_EQ(checkpoint::crc32c(v.p, v.n), v.want);
    EXPECT_EQ(crc32c_bytewise(v.p, v.n, 0), v.want);
    EXPECT_EQ(crc32c_slicing8(v.p, v.n, 0), v.want);
    if (crc32c_hw_available()) {
      EXPECT_EQ(crc32c_hw(v.p, v.n, 0), v.want);
    }
  }
}

TEST(Crc32c, VariantsAgreeOnRandomDataAndContinue) {
  std::mt19937 rng(42);
  std::vector<uint8_t> buf(4096 + 8);
  for (auto& b : buf) b = uint8_t(rng());
  for (int trial = 0; trial < 500; ++trial) {
    const size_t off = rng() % 8, n = rng() % 4096;
    const uint8_t* p = buf.data() + off;
    const uint32_t want = crc32c_bytewise(p, n, 0);
    ASSERT_EQ(crc32c_slicing8(p, n, 0), want) << "offset " << off << " length " << n;
    if (crc32c_hw_available()) {
      ASSERT_EQ(crc32c_hw(p, n, 0), want) << "offset " << off << " length " << n;
    }
    // Continuation: crc(ab) == crc(b, crc(a)), at any split point.
    const size_t cut = n == 0 ? 0 : rng() % n;
    ASSERT_EQ(checkpoint::crc32c(p + cut, n - cut, checkpoint::crc32c(p, cut)), want);
  }
}

TEST(Format, Names) {
  EXPECT_EQ(step_name(1000), "step_00001000");
  EXPECT_EQ(step_name(123456789), "step_123456789");
  int64_t s = -1;
  EXPECT_TRUE(parse_step_name("step_00001000", &s));
  EXPECT_EQ(s, 1000);
  for (const char* bad : {"step_", "step_12.tmp", "step_12.corrupt", "step_x1", "Step_1", "step_-1", "latest"})
    EXPECT_FALSE(parse_step_name(bad, &s)) << bad;
  EXPECT_EQ(rank_file(3), "rank_00003.h5");
  EXPECT_TRUE(is_rank_file("rank_00003.h5"));
  EXPECT_FALSE(is_rank_file("../rank_00003.h5"));
  EXPECT_FALSE(is_rank_file("rank_3.h5x"));
  // '/' must not reach HDF5 (it would make groups) and the escape must stay injective.
  EXPECT_EQ(dataset_name("master/h.0.attn.c_attn.weight", 1, 4096), "master%2Fh.0.attn.c_attn.weight.tp1.4096");
  EXPECT_NE(dataset_name("a/b", 0, 0), dataset_name("a%2Fb", 0, 0));
  uint32_t c = 0;
  EXPECT_TRUE(parse_crc_hex(crc_hex(0xE3069283u), &c));
  EXPECT_EQ(c, 0xE3069283u);
  EXPECT_FALSE(parse_crc_hex("e306928", &c));
  EXPECT_FALSE(parse_crc_hex("e306928g", &c));
}

TEST(Format, CheckLayout) {
  using parallel::Split;
  EXPECT_EQ(check_layout(kernels::Shape{24, 4}, Split::kQkvRows, 4), "");
  EXPECT_NE(check_layout(kernels::Shape{24, 4}, Split::kQkvRows, 3), "");
  EXPECT_NE(check_layout(kernels::Shape{16, 6}, Split::kRows, 3), "");
  EXPECT_NE(check_layout(kernels::Shape{8}, Split::kCols, 2), "");
  EXPECT_NE(check_layout(kernels::Shape{2, 4, 4}, Split::kCols, 2), "");
  EXPECT_NE(check_layout(kernels::Shape{8}, Split::kReplicated, 0), "");
}

// For every split, tp and tp rank: the run from e maps to consecutive global indices, and it is
// maximal in the sense load() needs (ends at the shard's end or where the mapping jumps).
TEST(Format, ContiguousRunMatchesIndexMath) {
  for (const ckpt_test::Spec& s : ckpt_test::specs())
    for (int tp : {1, 2, 4}) {
      const int64_t n = parallel::local_shape(s.shape, s.split, tp).numel();
      for (int r = 0; r < tp; ++r)
        for (int64_t e = 0; e < n; ++e) {
          const int64_t run = contiguous_run(s.shape, s.split, tp, e);
          ASSERT_GE(run, 1);
          ASSERT_LE(e + run, n);
          const int64_t g = parallel::global_index(s.shape, s.split, tp, r, e);
          for (int64_t i = 1; i < run; ++i)
            ASSERT_EQ(parallel::global_index(s.shape, s.split, tp, r, e + i), g + i)
                << s.name << " tp " << tp << " rank " << r << " e " << e;
          if (e + run < n && s.split != parallel::Split::kReplicated) {
            EXPECT_NE(parallel::global_index(s.shape, s.split, tp, r, e + run), g + run) << s.name << " not maximal";
          }
        }
    }
}

}  // namespace
