// tests/checkpoint/test_manifest.cpp
// manifest.yaml: exact round trip of every RunState field and of awkward config strings, and every
// kind of damage (missing, empty, garbage, truncated, a flipped digit, a wrong version, a missing
// key, a gap in the slices) read as an InputError that names the file.
#include <gtest/gtest.h>

#include <string>

#include "checkpoint/checkpoint.h"
#include "checkpoint/internal.h"
#include "ckpt_test.h"
#include "tests/common/test_support.h"

namespace {

using checkpoint::Manifest;
using checkpoint::detail::emit_manifest;
using checkpoint::detail::parse_manifest;

std::vector<Manifest::Entry> two_tensors() {
  Manifest::Entry a;
  a.name = "master/wte";
  a.dtype = kernels::DType::F32;
  a.global_shape = kernels::Shape{16, 6};
  a.split = parallel::Split::kRows;
  a.tp = 2;
  a.slices = {{"rank_00000.h5", "master%2Fwte.tp0.0", 0, 0, 48, 0x01234567u},
              {"rank_00001.h5", "master%2Fwte.tp1.0", 1, 0, 30, 0x89abcdefu},
              {"rank_00003.h5", "master%2Fwte.tp1.30", 1, 30, 18, 0xdeadbeefu}};
  Manifest::Entry b;
  b.name = "params/h.0.ln_1.weight";
  b.dtype = kernels::DType::BF16;
  b.global_shape = kernels::Shape{8};
  b.split = parallel::Split::kReplicated;
  b.tp = 2;
  b.slices = {{"rank_00000.h5", "params%2Fh.0.ln_1.weight.tp0.0", 0, 0, 8, 0u}};
  return {a, b};
}

// Re-seals edited text with a correct checksum line, to reach the checks behind the checksum.
std::string reseal(std::string text) {
  const size_t at = text.rfind("\nmanifest_crc32c: ");
  text.resize(at + 1);
  return text + "manifest_crc32c: " + checkpoint::detail::crc_hex(checkpoint::crc32c(text.data(), text.size())) + "\n";
}

TEST(Manifest, RoundTripsEveryField) {
  const checkpoint::RunState st = ckpt_test::state_at(1000);
  const Manifest m = parse_manifest(emit_manifest(st, two_tensors()), "x/manifest.yaml");
  EXPECT_EQ(m.state.step, 1000);
  EXPECT_EQ(m.state.tokens, st.tokens);
  EXPECT_EQ(m.state.loss_scale, st.loss_scale);  // bit-exact: printed with 17 digits
  EXPECT_EQ(m.state.skipped_steps, st.skipped_steps);
  EXPECT_EQ(m.state.loader_epoch, st.loader_epoch);
  EXPECT_EQ(m.state.loader_position, st.loader_position);
  EXPECT_EQ(m.state.seed, st.seed);
  EXPECT_EQ(m.state.dp, 2);
  EXPECT_EQ(m.state.zero, 1);
  EXPECT_EQ(m.state.config_yaml, st.config_yaml);
  ASSERT_EQ(m.tensors.size(), 2u);
  const Manifest::Entry* e = m.find("master/wte");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->global_shape, (kernels::Shape{16, 6}));
  EXPECT_EQ(e->split, parallel::Split::kRows);
  ASSERT_EQ(e->slices.size(), 3u);
  EXPECT_EQ(e->slices[2].file, "rank_00003.h5");
  EXPECT_EQ(e->slices[2].local_begin, 30);
  EXPECT_EQ(e->slices[2].crc32c, 0xdeadbeefu);
  EXPECT_EQ(m.find("params/h.0.ln_1.weight")->dtype, kernels::DType::BF16);
  EXPECT_EQ(m.find("nope"), nullptr);
}

TEST(Manifest, ConfigStringsSurviveExactly) {
  for (const std::string& cfg : {std::string(""), std::string("a: 1"), std::string("  leading: spaces\n"),
                                std::string("x: \"quoted\"\n\n\n"), std::string("tab:\t1\r\nnext: 2\n"),
                                std::string("unicode: \xc3\xa9t\xc3\xa9\n")}) {
    checkpoint::RunState st = ckpt_test::state_at(1);
    st.config_yaml = cfg;
    EXPECT_EQ(parse_manifest(emit_manifest(st, two_tensors()), "m").state.config_yaml, cfg);
  }
}

TEST(Manifest, DamageIsAnInputErrorNamingTheFile) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  const std::string path = dir + "/manifest.yaml";
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::read_manifest(dir); }), path);  // missing

  const std::string good = emit_manifest(ckpt_test::state_at(7), two_tensors());
  std::string flipped = good;
  flipped[good.find("tokens: ") + 8] ^= 0x01;  // a digit of `tokens` changes: still valid YAML
  std::string bad_version = good, missing_key = good, gap = good, escape = good;
  bad_version.replace(bad_version.find("format_version: 1"), 17, "format_version: 2");
  missing_key.replace(missing_key.find("seed:"), 5, "sead:");
  gap.replace(gap.find("begin: 30, count: 18"), 20, "begin: 31, count: 17");
  escape.replace(escape.find("rank_00003.h5"), 13, "../etc/passwd");
  const struct {
    std::string text, expect;
  } cases[] = {
      {"", "manifest_crc32c"},
      {"\x01\x02garbage\xff", "manifest_crc32c"},
      {good.substr(0, good.size() / 2), "manifest_crc32c"},
      {flipped, "checksum mismatch"},
      {"key: [unclosed\nmanifest_crc32c: 00000000\n", "checksum"},
      {reseal("key: [unclosed\nmanifest_crc32c: 0\n"), "YAML syntax error at line 2"},
      {reseal(bad_version), "format_version 2"},
      {reseal(missing_key), "'seed'"},
      {reseal(gap), "do not cover"},
      {reseal(escape), "not rank_NNNNN.h5"},
  };
  for (const auto& c : cases) {
    kiln_test::write_file(path, c.text);
    const std::string msg = kiln_test::input_error_of([&] { checkpoint::read_manifest(dir); });
    EXPECT_HAS(msg, path);
    EXPECT_HAS(msg, c.expect);
  }
  kiln_test::write_file(path, good);
  EXPECT_EQ(checkpoint::read_manifest(dir).state.step, 7);
}

TEST(Manifest, MergeRejectsDisagreeingPieces) {
  checkpoint::detail::SliceRecord a{"w", kernels::DType::F32, kernels::Shape{4, 4}, parallel::Split::kRows, 2, 0, 0, 8,
                                    "rank_00000.h5", "w.tp0.0", 0};
  checkpoint::detail::SliceRecord b = a;
  b.tp_rank = 1;
  b.dataset = "w.tp1.0";
  EXPECT_EQ(checkpoint::detail::merge_slices({a, b}).size(), 1u);
  b.global_shape = kernels::Shape{4, 5};
  EXPECT_THROW(checkpoint::detail::merge_slices({a, b}), std::runtime_error);
}

}  // namespace
