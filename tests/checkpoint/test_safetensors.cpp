// tests/checkpoint/test_safetensors.cpp
// The safetensors writer and reader (checkpoint/safetensors.h): a round trip keeps names, dtypes,
// shapes and bytes; the layout on disk is the format's (little-endian length, space-padded JSON
// header ending 8-byte aligned, tensors back to back); damaged files are refused naming the file.
// Expected bytes are written down from a formula, and the raw file is checked byte by byte.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "tests/common/test_support.h"

namespace {

namespace fs = std::filesystem;
using checkpoint::SafetensorsInfo;
using kernels::DType;

struct Example {
  SafetensorsInfo info;
  std::vector<char> bytes;
};

// Bytes b of tensor t are (t * 31 + b) % 251: distinct per tensor and position.
std::vector<Example> examples() {
  std::vector<Example> e = {{{"a.weight", DType::F32, {2, 3}}, {}},
                            {{"b.bias", DType::BF16, {5}}, {}},
                            {{"c", DType::F16, {3, 1, 2}}, {}},
                            {{"empty", DType::F32, {0, 4}}, {}},
                            {{"scalar", DType::I32, {}}, {}},
                            {{"d", DType::F64, {1, 1}}, {}}};
  for (size_t t = 0; t < e.size(); ++t) {
    int64_t n = 1;
    for (int64_t d : e[t].info.shape) n *= d;
    e[t].bytes.resize(size_t(n) * kernels::dtype_size(e[t].info.dtype));
    for (size_t b = 0; b < e[t].bytes.size(); ++b) e[t].bytes[b] = char((t * 31 + b) % 251);
  }
  return e;
}

std::string write_examples(const std::string& path) {
  const std::vector<Example> ex = examples();
  std::vector<SafetensorsInfo> infos;
  for (const Example& e : ex) infos.push_back(e.info);
  checkpoint::SafetensorsWriter w(path, infos, {{"format", "pt"}, {"note", "test"}});
  for (const Example& e : ex) w.write_next(e.bytes.data(), e.bytes.size());
  w.finish();
  return path;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// A file made of a given header text (padded with spaces to 8) and `data_bytes` zero bytes.
std::string handmade(const std::string& path, std::string header, size_t data_bytes) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string f(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f[size_t(i)] = char((n >> (8 * i)) & 0xff);
  write_all(path, f + header + std::string(data_bytes, '\0'));
  return path;
}

TEST(Safetensors, RoundTripKeepsNamesDtypesShapesAndBytes) {
  const std::string dir = kiln_test::scratch_dir("safetensors");
  const std::string path = write_examples(dir + "/m.safetensors");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const checkpoint::SafetensorsFile f = checkpoint::read_safetensors(path);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_EQ(f.metadata.at("note"), "test");
  const std::vector<Example> ex = examples();
  ASSERT_EQ(f.tensors.size(), ex.size());
  for (const Example& e : ex) {
    const SafetensorsInfo* t = f.find(e.info.name);
    ASSERT_NE(t, nullptr) << e.info.name;
    EXPECT_EQ(t->dtype, e.info.dtype) << e.info.name;
    EXPECT_EQ(t->shape, e.info.shape) << e.info.name;
    ASSERT_EQ(size_t(t->nbytes()), e.bytes.size()) << e.info.name;
    // memcmp with a null pointer is undefined even for 0 bytes (UBSan): empty tensors compare equal.
    if (!e.bytes.empty()) {
      EXPECT_EQ(std::memcmp(f.bytes(*t), e.bytes.data(), e.bytes.size()), 0) << e.info.name;
    }
  }
}

TEST(Safetensors, LayoutOnDiskIsTheFormats) {
  const std::string dir = kiln_test::scratch_dir("safetensors");
  const std::string raw = read_all(write_examples(dir + "/m.safetensors"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(raw[size_t(i)])) << (8 * i);
  // The data buffer starts 8-byte aligned; the padding is spaces after the JSON.
  EXPECT_EQ((8 + n) % 8, 0u);
  const std::string header = raw.substr(8, n);
  const size_t json_end = header.find_last_not_of(' ') + 1;
  EXPECT_LT(header.size() - json_end, 8u);
  const nlohmann::json h = nlohmann::json::parse(header.substr(0, json_end));
  EXPECT_EQ(h["__metadata__"]["format"], "pt");
  EXPECT_EQ(h["a.weight"]["dtype"], "F32");
  EXPECT_EQ(h["b.bias"]["dtype"], "BF16");
  EXPECT_EQ(h["c"]["dtype"], "F16");
  EXPECT_EQ(h["scalar"]["shape"], nlohmann::json::array());
  // Tensors back to back in the order written, covering the buffer exactly.
  uint64_t at = 0;
  for (const Example& e : examples()) {
    const nlohmann::json off = h[e.info.name]["data_offsets"];
    EXPECT_EQ(off[0].get<uint64_t>(), at) << e.info.name;
    at += e.bytes.size();
    EXPECT_EQ(off[1].get<uint64_t>(), at) << e.info.name;
    EXPECT_EQ(raw.substr(8 + n + off[0].get<size_t>(), e.bytes.size()), std::string(e.bytes.begin(), e.bytes.end()));
  }
  EXPECT_EQ(raw.size(), 8 + n + at);
}

TEST(Safetensors, UnfinishedWriterLeavesNoFile) {
  const std::string dir = kiln_test::scratch_dir("safetensors");
  {
    // Dies before its tensor is written and finish() is called (an exception in the caller).
    checkpoint::SafetensorsWriter w(dir + "/m.safetensors", {{"x", DType::F32, {2}}}, {});
    EXPECT_TRUE(fs::exists(dir + "/m.safetensors.tmp"));
  }
  EXPECT_FALSE(fs::exists(dir + "/m.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/m.safetensors.tmp"));
}

TEST(Safetensors, AsFloatDecodesHalfPrecision) {
  const std::string dir = kiln_test::scratch_dir("safetensors");
  const std::vector<float> want = {1.5f, -2.25f, 0.f, 65504.f};
  std::vector<uint16_t> b(4), h(4);
  for (size_t i = 0; i < 4; ++i) b[i] = kernels::bf16::from_float(want[i]), h[i] = kernels::fp16::from_float(want[i]);
  checkpoint::SafetensorsWriter w(dir + "/m.safetensors", {{"b", DType::BF16, {4}}, {"h", DType::F16, {2, 2}}}, {});
  w.write_next(b.data(), 8);
  w.write_next(h.data(), 8);
  w.finish();
  const checkpoint::SafetensorsFile f = checkpoint::read_safetensors(dir + "/m.safetensors");
  EXPECT_EQ(f.as_float("h"), want);  // all four are exact in fp16
  const std::vector<float> bf = f.as_float("b");
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(bf[i], want[i]);
  EXPECT_EQ(bf[3], 65536.f);  // 65504 rounds to nearest even in bf16's 8-bit mantissa
}

TEST(Safetensors, ReaderRejectsTruncatedFilesNamingThem) {
  const std::string dir = kiln_test::scratch_dir("safetensors");
  const std::string path = write_examples(dir + "/m.safetensors");
  const std::string raw = read_all(path);
  // Cut inside the data: the last tensor's offsets now run past the end.
  write_all(path, raw.substr(0, raw.size() - 3));
  std::string msg = kiln_test::input_error_of([&] { checkpoint::read_safetensors(path); });
  EXPECT_HAS(msg, path);
  EXPECT_HAS(msg, "data_offsets");
  // Cut inside the header.
  write_all(path, raw.substr(0, 20));
  msg = kiln_test::input_error_of([&] { checkpoint::read_safetensors(path); });
  EXPECT_HAS(msg, path);
  EXPECT_HAS(msg, "runs past the end");
  write_all(path, raw.substr(0, 5));
  msg = kiln_test::input_error_of([&] { checkpoint::read_safetensors(path); });
  EXPECT_HAS(msg, "shorter than");
  msg = kiln_test::input_error_of([&] { checkpoint::read_safetensors(dir + "/missing.safetensors"); });
  EXPECT_HAS(msg, dir + "/missing.safetensors");
}

TEST(Safetensors, ReaderRejectsBadHeadersNamingFileAndTensor) {
  const std::string dir = kiln_test::scratch_dir("safetensors");
  const std::string p = dir + "/h.safetensors";
  struct Case {
    std::string header;
    size_t data;
    const char* expect;
    const char* tensor = nullptr;  // named in the message when the problem is one tensor's
  } cases[] = {
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8, "outside the 8-byte data buffer", "'w'"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, "starts at byte 4", "'w'"},          // a gap
      {R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "needs 12", "'w'"},                    // size vs shape
      {R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8, "unsupported dtype", "'w'"},
      {R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "impossible dim", "'w'"},
      {R"({"w":{"dtype":"F32","shape":[2]}})", 8, "lacks", "'w'"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12, "trailing bytes"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, "overlaps"},
      {R"([1,2])", 0, "not a JSON object"},
      {R"({"w": )", 0, "not valid JSON"},
      {R"({"__metadata__":{"format":1}})", 0, "not a string"},
      // Untrusted JSON is described, never dumped into the message, and its nesting is bounded.
      {R"({"w":{"dtype":[[["F32"]]],"shape":[2],"data_offsets":[0,8]}})", 8, "unsupported dtype an array of 1 values"},
      {"{\"w\":" + std::string(100000, '[') + std::string(100000, ']') + "}", 0, "header: nested deeper than 64 levels"},
  };
  for (const Case& c : cases) {
    const std::string msg = kiln_test::input_error_of([&] { checkpoint::read_safetensors(handmade(p, c.header, c.data)); });
    EXPECT_HAS(msg, p);
    EXPECT_HAS(msg, c.expect);
    if (c.tensor) {
      EXPECT_HAS(msg, c.tensor);
    }
  }
}

}  // namespace
