// data/utf8.h
// UTF-8 validity and the WHATWG "replacement" decoding of ill-formed UTF-8: every maximal
// ill-formed subpart becomes U+FFFD (EF BF BD), exactly what JavaScript's TextDecoder / Node's
// Buffer.toString('utf8') and Python's bytes.decode(errors="replace") do. The GPT-2 tokenizer
// applies it before tokenizing, so its ids equal the reference encoder's on ANY input bytes: the
// reference only ever sees text decoded this way. Not here: any other normalisation.
#pragma once

#include <string>
#include <string_view>

namespace data {

bool utf8_valid(std::string_view s);
std::string utf8_replace_invalid(std::string_view s);

}  // namespace data
