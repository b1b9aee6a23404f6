// tests/checkpoint/test_inspect.cpp
// inspect_json / print_inspect: the JSON line's fields, following `latest`, and InputErrors that
// name the file for a missing folder, a missing manifest and a damaged shard under verify.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint.h"
#include "checkpoint/inspect.h"
#include "data/io.h"
#include "ckpt_test.h"
#include "parallel/comm_self.h"
#include "tests/common/test_support.h"

namespace {

namespace fs = std::filesystem;

TEST(Inspect, JsonLineAndTable) {
  const std::string dir = kiln_test::scratch_dir("checkpoint");
  parallel::SelfComm self;
  checkpoint::Saver saver(dir, 3, self);
  ckpt_test::Holder h;
  std::vector<checkpoint::Piece> pieces = ckpt_test::rank_pieces(h, 0, 1, 1, 42);
  uint64_t bytes = 0;
  for (const auto& p : pieces) bytes += uint64_t(p.count) * kernels::dtype_size(p.dtype);
  saver.begin(ckpt_test::state_at(42, 1, 1), pieces);
  ASSERT_EQ(saver.commit(true), 42);

  const std::string want = "{\"kind\":\"checkpoint\",\"step\":42,\"tokens\":" + std::to_string(42 * 4096) +
                           ",\"layout\":{\"dp\":1,\"tp\":1,\"zero\":1},\"tensors\":" + std::to_string(pieces.size()) +
                           ",\"bytes\":" + std::to_string(bytes);
  EXPECT_EQ(checkpoint::inspect_json(dir + "/step_00000042", false), want + ",\"verified\":false}");
  EXPECT_EQ(checkpoint::inspect_json(dir, true), want + ",\"verified\":true}");  // follows `latest`

  testing::internal::CaptureStdout();
  checkpoint::print_inspect(dir + "/step_00000042", true);
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_HAS(out, "master/h.0.attn.c_attn.weight");
  EXPECT_HAS(out, "qkv_rows");
  EXPECT_HAS(out, "(24, 4)");
  EXPECT_EQ(out.substr(out.rfind('\n', out.size() - 2) + 1), want + ",\"verified\":true}\n");

  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::inspect_json(dir + "/nope", false); }), dir + "/nope");
  fs::create_directories(dir + "/empty");
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::inspect_json(dir + "/empty", false); }),
             dir + "/empty/manifest.yaml");
  {  // damage one data byte of master/wte (its dataset's offset from HDF5)
    const std::string file = dir + "/step_00000042/rank_00000.h5";
    const std::string ds = checkpoint::read_manifest(dir + "/step_00000042").find("master/wte")->slices[0].dataset;
    haddr_t at;
    {
      data::io::H5Id f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
      data::io::H5Id d(H5Dopen2(f.get(), ds.c_str(), H5P_DEFAULT));
      at = H5Dget_offset(d.get());
    }
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(at + 2));
    const char c = char(f.get() ^ 0xff);
    f.seekp(std::streamoff(at + 2));
    f.put(c);
  }
  EXPECT_NO_THROW(checkpoint::inspect_json(dir + "/step_00000042", false));  // no verify: manifest only
  EXPECT_HAS(kiln_test::input_error_of([&] { checkpoint::inspect_json(dir + "/step_00000042", true); }),
             dir + "/step_00000042/rank_00000.h5");
}

}  // namespace
