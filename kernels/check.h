// kernels/check.h
// The one failure path of kiln, and the exception type for bad user input.
//
// Two kinds of failure, two exits (CONTRACTS §1):
//  - InputError: the user gave a bad config key, file, value or flag. Thrown, caught by the CLI,
//    printed with the file/key/value it names, exit code 2.
//  - fail(): an internal invariant broke (a bug, a library error). Prints file:line and the
//    failing expression with the rank prefix, then exits with code 1.
// The CHECK family of macros all funnel into fail(), so every message has the same shape.
#pragma once

#include <stdexcept>
#include <string>

namespace kernels {

// Bad input from the user: message must name the culprit (file, key or value) and what was expected.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Prefix for messages under MPI, e.g. "[rank 3/16 node07] ". Empty for a single process.
// Set once by launch::discover(); read by fail().
void set_rank_prefix(std::string prefix);
const std::string& rank_prefix();

// Prints "<prefix>file:line: what: detail" to stderr and exits with code 1.
[[noreturn]] void fail(const char* what, const std::string& detail, const char* file, int line);

}  // namespace kernels

#define KILN_CHECK(cond, msg)                                             \
  do {                                                                    \
    if (!(cond)) ::kernels::fail(#cond, (msg), __FILE__, __LINE__);       \
  } while (0)

// Throws InputError: for conditions that depend on what the user supplied.
#define KILN_REQUIRE_INPUT(cond, msg)                                     \
  do {                                                                    \
    if (!(cond)) throw ::kernels::InputError(msg);                        \
  } while (0)
