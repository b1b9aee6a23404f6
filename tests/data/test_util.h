// tests/data/test_util.h
// Helpers shared by the data tests: a fresh scratch folder per test, small file I/O, catching an
// InputError's message, and a raw HDF5 writer for shards that kiln itself would never write
// (wrong dtype, missing dataset, ids past vocab_size) so the reader's checks can be exercised.
// Test-only; the raw writer deliberately uses fixed-length string attributes, the other flavour
// from what write_shard() writes, so the reader is tested on both.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/check.h"

namespace data_test {
namespace fs = std::filesystem;

// $KILN_TEST_TMP/data/<Suite>.<Test>/, emptied first; unique per test so tests never share files.
inline std::string scratch_dir() {
  const char* env = std::getenv("KILN_TEST_TMP");
  const fs::path root = (env != nullptr && *env != '\0') ? fs::path(env) : fs::temp_directory_path() / "kiln_test";
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = root / "data" / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Runs fn, expects kernels::InputError, returns its message ("" and a test failure otherwise).
inline std::string input_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const kernels::InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InputError, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected InputError, nothing was thrown";
  return "";
}

// A shard written with the plain HDF5 API. Values go through double so any file type (float,
// uint16, uint32) can be produced from one list.
struct RawShard {
  bool with_tokens = true;
  hid_t tokens_type = H5T_STD_U16LE;
  int tokens_rank = 1;  // 2 writes a (n/2, 2) dataset
  std::vector<double> tokens = {1, 2, 3, 4};
  bool with_offsets = true;
  std::string kiln_format = "tokens";
  int format_version = 1;
  int vocab_size = 256;
  int eot_token = -1;
};

inline void write_fixed_string_attr(hid_t file, const char* name, const std::string& value) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.size() + 1);  // NUL-terminated fixed-length string
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, type, value.c_str());
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

inline void write_int_attr(hid_t file, const char* name, int value) {
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(file, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_INT, &value);
  H5Aclose(attr);
  H5Sclose(space);
}

inline void write_raw_shard(const std::string& path, const RawShard& r) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  if (r.with_tokens) {
    const hsize_t n = r.tokens.size();
    const hsize_t dims2[2] = {n / 2, 2};
    const hid_t space = r.tokens_rank == 1 ? H5Screate_simple(1, &n, nullptr) : H5Screate_simple(2, dims2, nullptr);
    const hid_t ds = H5Dcreate2(file, "tokens", r.tokens_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, r.tokens.data());
    H5Dclose(ds);
    H5Sclose(space);
  }
  if (r.with_offsets) {
    const hsize_t one = 1;
    const uint64_t zero = 0;
    const hid_t space = H5Screate_simple(1, &one, nullptr);
    const hid_t ds = H5Dcreate2(file, "doc_offsets", H5T_STD_U64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero);
    H5Dclose(ds);
    H5Sclose(space);
  }
  write_fixed_string_attr(file, "kiln_format", r.kiln_format);
  write_int_attr(file, "format_version", r.format_version);
  write_int_attr(file, "vocab_size", r.vocab_size);
  write_int_attr(file, "eot_token", r.eot_token);
  write_fixed_string_attr(file, "tokenizer", "raw:test");
  H5Fclose(file);
}

}  // namespace data_test
