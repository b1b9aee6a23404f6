// tests/configs/test_yaml_strict.cpp
// kernels/yaml_strict.h through the config loader: every text yaml-cpp 0.7 accepts but a YAML
// reader following the specification rejects (or reads differently) must be an InputError with the
// source and the line, and valid YAML of every style kiln's files use must still load unchanged.
// The refused texts come from reading yaml-cpp's issue tracker and from the differential fuzzer
// (tests/fuzz/fuzz_config.cpp with KILN_FUZZ_YAML_DIFF=1, docs/FUZZING.md).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "configs/load.h"
#include "kernels/yaml_strict.h"
#include "tests/common/test_support.h"

namespace {

using kiln_test::input_error_of;

std::string refusal(const std::string& yaml) {
  return input_error_of([&] { configs::config_from_yaml_string(yaml, "x.yaml"); });
}

TEST(YamlStrict, RefusesWhatYamlCppWouldMisread) {
  struct Case {
    const char* yaml;
    const char* message;  // the whole InputError text
  };
  const Case cases[] = {
      // Unterminated quotes: yaml-cpp takes the rest of the file into the string.
      {"run:\n  name: \"typo-run\nmodel:\n  n_layer: 2\n",
       "x.yaml: YAML syntax error at line 5, column 1: found unexpected end of stream while scanning a quoted "
       "scalar that starts at line 2, column 9 (a quote that is never closed?)"},
      {"run: {name: 'typo}\n",
       "x.yaml: YAML syntax error at line 2, column 1: found unexpected end of stream while scanning a quoted "
       "scalar that starts at line 1, column 13 (a quote that is never closed?)"},
      // A second document: yaml-cpp's Load keeps the first and drops the rest.
      {"model: {n_layer: 2}\n---\nmodel: {n_layer: 3}\n",
       "x.yaml: YAML syntax error at line 2, column 1: a second YAML document starts here (kiln's files hold one)"},
      // Unclosed flow collections.
      {"model: {n_layer: 2\n",
       "x.yaml: YAML syntax error at line 2, column 1: did not find expected ',' or '}' while parsing a flow "
       "mapping that starts at line 1, column 8 (a [ or { that is never closed?)"},
      // yaml-cpp issue 938: this input made yaml-cpp 0.6 stall, then crash.
      {"{# ke\ny{:",
       "x.yaml: YAML syntax error at line 2, column 2: did not find expected ',' or '}' while parsing a flow "
       "mapping that starts at line 1, column 1 (a [ or { that is never closed?)"},
      // Tabs as indentation.
      {"model:\n\tn_layer: 2\n",
       "x.yaml: YAML syntax error at line 2, column 1: found character that cannot start any token while "
       "scanning for the next token that starts at line 2, column 1"},
      // Anchors, aliases and tags: refused before they reach yaml-cpp.
      {"model: &m {n_layer: 2}\n", "x.yaml: YAML syntax error at line 1, column 8: anchors (&name) are not supported "
                                    "in kiln's YAML files"},
      {"run: {name: !!str 5}\n",
       "x.yaml: YAML syntax error at line 1, column 13: tags (!name) are not supported in kiln's YAML files"},
      // A lone carriage return: a line break for YAML, part of the number for yaml-cpp (fuzzer).
      {"optim: {lr: 2.0e-3, min_lr: 2.0e\r4}\n",
       "x.yaml: YAML syntax error at line 1, column 33: a carriage return (\\r) without a line feed; save the "
       "file with \\n or \\r\\n line ends"},
      // Bytes that are not UTF-8 text.
      {"run: {name: \"\xff\"}\n",
       "x.yaml: not valid YAML text at byte 14: invalid leading UTF-8 octet (YAML files are UTF-8 text)"},
  };
  for (const Case& c : cases) EXPECT_EQ(refusal(c.yaml), c.message) << c.yaml;
}

TEST(YamlStrict, DeepNestingIsRefusedQuickly) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string msg = refusal("run: " + std::string(1000000, '[') + "\n");
  EXPECT_EQ(msg, "x.yaml: YAML syntax error at line 1, column 69: nested deeper than 64 levels of maps and lists");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

TEST(YamlStrict, AcceptsEveryStyleKilnUses) {
  // Block and flow maps, all scalar styles, comments, an explicit document start and end, nulls.
  const std::string yaml =
      "%YAML 1.2\n---\n"
      "run: {name: 'it''s', out_dir: \"a\\tb\"}  # comment\n"
      "model:\n  arch: gpt2\n  n_layer: 2\n"
      "data:\n  train: >-\n    folded\n    text\n  val: |\n    literal\n"
      "eval: {}\n"
      "checkpoint:\n"
      "...\n";
  const configs::Config c = configs::config_from_yaml_string(yaml, "x.yaml");
  EXPECT_EQ(c.run.name, "it's");
  EXPECT_EQ(c.run.out_dir, "a\tb");
  EXPECT_EQ(c.model.n_layer, 2);
  EXPECT_EQ(c.data.train, "folded text");
  EXPECT_EQ(c.data.val, "literal\n");
  // Windows line ends read the same as Unix ones.
  std::string crlf;
  for (char ch : yaml) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  EXPECT_TRUE(configs::config_from_yaml_string(crlf, "crlf.yaml") == c);
  // The resolved config kiln writes (to_yaml) reads back through the same door.
  EXPECT_TRUE(configs::config_from_yaml_string(configs::to_yaml(c), "y.yaml") == c);
}

TEST(YamlStrict, UnreadableFilesAreNamed) {
  const std::string dir = kiln_test::scratch_dir("yaml");
  EXPECT_EQ(input_error_of([&] { kernels::read_user_text_file(dir, "config file"); }),
            dir + ": config file is a folder, expected a file");
  EXPECT_EQ(input_error_of([&] { kernels::read_user_text_file(dir + "/none.yaml", "config file"); }),
            dir + "/none.yaml: config file not found (No such file or directory)");
}

}  // namespace
