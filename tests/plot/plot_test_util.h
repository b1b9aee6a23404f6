// tests/plot/plot_test_util.h
// Small run folders written by the tests: metrics.jsonl / eval.jsonl lines as kiln train writes them.
#pragma once

#include <cmath>
#include <string>

#include "tests/common/test_support.h"

namespace plot_test {

// `steps` metrics lines (step 10, 20, ...; 2048 tokens per step; a loss decaying from 5.5) and,
// when evals > 0, that many eval lines, under dir.
inline void write_run(const std::string& dir, int steps, int evals) {
  std::string metrics, eval;
  for (int i = 1; i <= steps; ++i) {
    const int step = 10 * i;
    const double loss = 2.0 + 3.5 * std::exp(-0.3 * i);
    metrics += "{\"grad_norm\":1.0,\"loss\":" + std::to_string(loss) + ",\"lr\":0.001,\"mfu\":null,\"skipped_steps\":0,"
               "\"step\":" + std::to_string(step) + ",\"step_time_s\":0.2,\"tokens\":" + std::to_string(step * 2048) +
               ",\"tokens_per_s\":9000.0}\n";
  }
  for (int i = 1; i <= evals; ++i) {
    const int step = 10 * steps * i / evals;
    const double loss = 2.1 + 3.0 * std::exp(-0.3 * i * steps / evals);
    eval += "{\"step\":" + std::to_string(step) + ",\"tokens\":" + std::to_string(step * 2048) +
            ",\"val_bits_per_byte\":3.0,\"val_loss\":" + std::to_string(loss) +
            ",\"val_perplexity\":" + std::to_string(std::exp(loss)) + "}\n";
  }
  kiln_test::write_file(dir + "/metrics.jsonl", metrics);
  if (evals > 0) kiln_test::write_file(dir + "/eval.jsonl", eval);
}

}  // namespace plot_test
