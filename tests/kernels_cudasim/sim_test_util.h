// tests/kernels_cudasim/sim_test_util.h
// For the simulator's own tests: test kernels are written in CUDA's spelling (cuda_spellings.h)
// and launched with cudasim::launch<kernel>(grid, block, shared, stream, args...). expect_sim_error
// runs a launch that must fail and checks the message names what it should.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>

#include "kernels/cudasim/cuda_spellings.h"

namespace cudasim::test {

// The launch must throw cudasim::Error whose message contains every one of `parts`; returns it.
inline std::string expect_sim_error(const std::function<void()>& launch, std::initializer_list<const char*> parts) {
  try {
    launch();
  } catch (const cudasim::Error& e) {
    const std::string msg = e.what();
    std::printf("[cudasim error] %s\n", msg.c_str());
    for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "missing \"" << p << "\" in: " << msg;
    return msg;
  }
  ADD_FAILURE() << "the launch did not report an error";
  return "";
}

}  // namespace cudasim::test
