// tests/common/test_support.h
// Helpers every test folder shares: a fresh scratch folder per test, writing small files, catching
// an InputError's message, and substring assertions on messages. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "kernels/check.h"

namespace kiln_test {

namespace fs = std::filesystem;

// $KILN_TEST_TMP/<area>/<Suite>.<Test>/, emptied first: unique per test, so tests never share files
// (ctest runs binaries in parallel). Falls back to the system temp folder outside ctest.
inline std::string scratch_dir(const std::string& area) {
  const char* env = std::getenv("KILN_TEST_TMP");
  const fs::path root = (env != nullptr && *env != '\0') ? fs::path(env) : fs::temp_directory_path() / "kiln_test";
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = root / area / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

inline void write_file(const fs::path& p, const std::string& text) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Runs `f`, which must throw kernels::InputError; returns its message ("" and a failure if not).
inline std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kernels::InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected kernels::InputError";
  return "";
}

}  // namespace kiln_test

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << "message: " << (msg)
