// tests/checkpoint/test_faults.cpp
// Damage on disk: flipped bytes (at a known data offset and at hundreds of random offsets),
// truncated and missing shard files, a deleted or garbled manifest, a `latest` that names a
// missing folder. Each must be an InputError naming the file (never a crash, never a silently
// wrong load), and find_resume must fall back to the newest older checkpoint that verifies,
// renaming the bad one step_X.corrupt (whose step may then be saved again).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "checkpoint/checkpoint.h"
#include "checkpoint/internal.h"
#include "ckpt_test.h"
#include "data/io.h"
#include "parallel/comm_self.h"
#include "tests/common/test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace ckpt_test;

void save_step(const std::string& dir, int64_t step) {
  parallel::SelfComm self;
  checkpoint::Saver saver(dir, 10, self);
  Holder h;
  std::vector<checkpoint::Piece> all;
  for (int w = 0; w < 4; ++w) {
    std::vector<checkpoint::Piece> mine = rank_pieces(h, w, 2, 2, step);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  saver.begin(state_at(step), all);
  ASSERT_EQ(saver.commit(true), step);
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(std::streamoff(offset));
  char c = 0;
  f.read(&c, 1);
  c = char(c ^ 0x5a);
  f.seekp(std::streamoff(offset));
  f.write(&c, 1);
}

// Byte offset of a dataset's data in its file (contiguous layout).
uint64_t data_offset(const std::string& file, const std::string& dataset) {
  data::io::H5Id f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  data::io::H5Id d(H5Dopen2(f.get(), dataset.c_str(), H5P_DEFAULT));
  return H5Dget_offset(d.get());
}

// Loads everything as tp=1; returns true when it loaded (and then the values must be right).
bool try_full_load(const std::string& ckpt, int64_t step) {
  try {
    const checkpoint::Manifest m = checkpoint::read_manifest(ckpt);
    checkpoint::verify(m);
    Holder h;
    std::vector<checkpoint::Piece> reqs = requests(h, 1, 0, 1, true, kernels::DType::F32);
    checkpoint::load(m, reqs);
    expect_loaded(reqs, step, "after damage");
    return true;
  } catch (const kernels::InputError& e) {
    EXPECT_HAS(std::string(e.what()), ckpt);  // names a file of the checkpoint
    return false;
  }
}

std::optional<std::string> resume(const std::string& dir) {
  parallel::SelfComm self;
  return checkpoint::find_resume(dir, self);
}

TEST(Faults, FlippedDataByteIsCaughtAndResumeFallsBack) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_step(dir, 10);
  save_step(dir, 20);
  const std::string ck = dir + "/step_00000020", file = ck + "/rank_00000.h5";
  const checkpoint::Manifest m = checkpoint::read_manifest(ck);
  const auto& slice = m.find("adam_v/h.0.attn.c_proj.weight")->slices[0];
  flip_byte(ck + "/" + slice.file, data_offset(ck + "/" + slice.file, slice.dataset) + 5);
  const std::string msg = kiln_test::input_error_of([&] { checkpoint::verify(m); });
  EXPECT_HAS(msg, "adam_v/h.0.attn.c_proj.weight");
  EXPECT_HAS(msg, file);
  EXPECT_HAS(msg, "CRC32C mismatch");
  // load() checks CRCs of what it reads, too.
  Holder h;
  std::vector<checkpoint::Piece> reqs = requests(h, 1, 0, 1, true, kernels::DType::F32);
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::load(m, reqs); }), "CRC32C mismatch");

  EXPECT_EQ(resume(dir), dir + "/step_00000010");
  EXPECT_TRUE(fs::exists(dir + "/step_00000020.corrupt"));
  EXPECT_FALSE(fs::exists(ck));
  EXPECT_EQ(checkpoint::detail::read_latest(dir), "step_00000010");
  save_step(dir, 20);  // the step can be saved again
  EXPECT_EQ(resume(dir), dir + "/step_00000020");
  save_step(dir, 30);
  flip_byte(dir + "/step_00000030/rank_00000.h5",
            data_offset(dir + "/step_00000030/rank_00000.h5", slice.dataset) + 1);
  EXPECT_EQ(resume(dir), dir + "/step_00000020");
  EXPECT_TRUE(fs::exists(dir + "/step_00000030.corrupt"));
  EXPECT_TRUE(fs::exists(dir + "/step_00000020.corrupt"));  // the first one, kept aside
}

// Random single-byte flips anywhere in a shard file: either detected, or harmless (padding or
// bytes HDF5 never reads) and then the load is exactly right. Never a crash, never wrong data.
TEST(Faults, RandomByteFlipsNeverLoadWrongValues) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_step(dir, 10);
  const std::string ck = dir + "/step_00000010", file = ck + "/rank_00000.h5";
  const uint64_t size = fs::file_size(file);
  std::mt19937_64 rng(2024);
  int detected = 0, harmless = 0;
  const int kTrials = 300;
  for (int i = 0; i < kTrials; ++i) {
    const uint64_t at = rng() % size;
    flip_byte(file, at);
    (try_full_load(ck, 10) ? harmless : detected)++;
    flip_byte(file, at);  // restore
  }
  std::printf("random byte flips in a %llu-byte shard: %d detected, %d harmless (load exact)\n",
              static_cast<unsigned long long>(size), detected, harmless);
  EXPECT_EQ(detected + harmless, kTrials);
  EXPECT_GT(detected, kTrials / 2);
  EXPECT_TRUE(try_full_load(ck, 10));
}

TEST(Faults, TruncatedOrMissingShardIsAnInputError) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_step(dir, 10);
  save_step(dir, 20);
  const std::string ck = dir + "/step_00000020", file = ck + "/rank_00000.h5";
  const uint64_t size = fs::file_size(file);
  fs::copy_file(file, dir + "/pristine.h5");
  for (uint64_t len : {uint64_t(0), uint64_t(100), size / 3, size / 2, size - 1}) {
    fs::copy_file(dir + "/pristine.h5", file, fs::copy_options::overwrite_existing);
    fs::resize_file(file, len);
    const checkpoint::Manifest m = checkpoint::read_manifest(ck);
    const std::string msg = kiln_test::input_error_of([&] { checkpoint::verify(m); });
    EXPECT_HAS(msg, file);
    EXPECT_FALSE(try_full_load(ck, 20)) << "truncated to " << len;
  }
  fs::remove(file);
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::verify(checkpoint::read_manifest(ck)); }), file);
  EXPECT_EQ(resume(dir), dir + "/step_00000010");
}

TEST(Faults, DeletedOrGarbledManifestFallsBack) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_step(dir, 10);
  save_step(dir, 20);
  save_step(dir, 30);
  fs::remove(dir + "/step_00000030/manifest.yaml");
  kiln_test::write_file(dir + "/step_00000020/manifest.yaml", "step: 20\ntensors: [what\n");
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::read_manifest(dir + "/step_00000030"); }),
             dir + "/step_00000030/manifest.yaml");
  EXPECT_EQ(resume(dir), dir + "/step_00000010");
  EXPECT_TRUE(fs::exists(dir + "/step_00000030.corrupt"));
  EXPECT_TRUE(fs::exists(dir + "/step_00000020.corrupt"));
  EXPECT_EQ(checkpoint::detail::read_latest(dir), "step_00000010");
  EXPECT_TRUE(try_full_load(dir + "/step_00000010", 10));
}

TEST(Faults, ManifestFromAnotherStepIsNotTrusted) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_step(dir, 10);
  save_step(dir, 20);
  fs::copy_file(dir + "/step_00000010/manifest.yaml", dir + "/step_00000020/manifest.yaml",
                fs::copy_options::overwrite_existing);
  EXPECT_EQ(resume(dir), dir + "/step_00000010");
}

TEST(Faults, LatestNamingAMissingFolderIsOnlyAHint) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  save_step(dir, 10);
  kiln_test::write_file(dir + "/latest", "step_00000099\n");
  EXPECT_EQ(resume(dir), dir + "/step_00000010");
  EXPECT_EQ(checkpoint::detail::read_latest(dir), "step_00000010");  // corrected
  fs::remove_all(dir + "/step_00000010");
  EXPECT_FALSE(resume(dir).has_value());
  EXPECT_FALSE(fs::exists(dir + "/latest"));
  EXPECT_FALSE(resume(dir + "/does_not_exist").has_value());
}

}  // namespace
