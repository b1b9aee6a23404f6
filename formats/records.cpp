// formats/records.cpp
#include "formats/records.h"

#include <cmath>

namespace formats {

EvalResult summarize_eval(double sum_nats, int64_t tokens, int64_t bytes) {
  EvalResult r;
  r.tokens = tokens;
  r.loss = tokens ? sum_nats / double(tokens) : 0.0;
  r.perplexity = std::exp(r.loss);
  r.bits_per_byte = bytes ? sum_nats / (std::log(2.0) * double(bytes)) : 0.0;
  return r;
}

}  // namespace formats
