// tests/plot/test_run_data.cpp
// Reading run folders (plot/run_data.h): values, optional eval.jsonl, and errors that name the file
// and line; legend labels of runs that share a folder name.
#include <gtest/gtest.h>

#include <cmath>

#include "plot/run_data.h"
#include "tests/common/test_support.h"
#include "tests/plot/plot_test_util.h"

namespace {

using kiln_test::input_error_of;
using kiln_test::write_file;

TEST(PlotRunData, ReadsMetricsAndEval) {
  const std::string dir = kiln_test::scratch_dir("plot") + "/my-run";
  write_file(dir + "/metrics.jsonl",
             "{\"step\":1,\"tokens\":2048,\"loss\":5.5,\"lr\":4e-05,\"mfu\":null}\n"
             "{\"step\":25,\"tokens\":51200,\"loss\":3.25}\n"
             "\n"  // blank lines are not records
             "{\"step\":50,\"tokens\":102400,\"loss\":null}\n");  // a non-finite loss, logged as null
  write_file(dir + "/eval.jsonl",
             "{\"step\":25,\"tokens\":51200,\"val_loss\":3.0,\"val_perplexity\":20.0}\n"
             "{\"step\":50,\"tokens\":102400,\"val_loss\":2.0}\n");  // no perplexity: exp(val_loss)
  const plot::RunData r = plot::read_run(dir);
  EXPECT_EQ(r.label, "my-run");
  ASSERT_EQ(r.train.size(), 3u);
  EXPECT_EQ(r.train[1].step, 25);
  EXPECT_EQ(r.train[1].tokens, 51200);
  EXPECT_EQ(r.train[1].loss, 3.25);
  EXPECT_TRUE(std::isnan(r.train[2].loss));
  ASSERT_EQ(r.eval.size(), 2u);
  EXPECT_EQ(r.eval[0].val_perplexity, 20.0);
  EXPECT_DOUBLE_EQ(r.eval[1].val_perplexity, std::exp(2.0));
}

TEST(PlotRunData, EvalIsOptional) {
  const std::string dir = kiln_test::scratch_dir("plot");
  plot_test::write_run(dir + "/no-eval", 5, 0);
  EXPECT_TRUE(plot::read_run(dir + "/no-eval").eval.empty());
  plot_test::write_run(dir + "/empty-eval", 5, 0);
  write_file(dir + "/empty-eval/eval.jsonl", "");
  const plot::RunData r = plot::read_run(dir + "/empty-eval");
  EXPECT_TRUE(r.eval.empty());
  EXPECT_EQ(r.train.size(), 5u);
}

TEST(PlotRunData, MissingFolderOrMetricsNamesThePath) {
  const std::string dir = kiln_test::scratch_dir("plot");
  std::string msg = input_error_of([&] { plot::read_run(dir + "/nope"); });
  EXPECT_HAS(msg, dir + "/nope");
  EXPECT_HAS(msg, "does not exist");
  write_file(dir + "/bare/config.yaml", "run: {name: bare}\n");
  msg = input_error_of([&] { plot::read_run(dir + "/bare"); });
  EXPECT_HAS(msg, dir + "/bare/metrics.jsonl");
  write_file(dir + "/empty/metrics.jsonl", "");
  msg = input_error_of([&] { plot::read_run(dir + "/empty"); });
  EXPECT_HAS(msg, "metrics.jsonl");
  EXPECT_HAS(msg, "no logged steps");
}

TEST(PlotRunData, MalformedLineNamesFileAndLine) {
  const std::string dir = kiln_test::scratch_dir("plot");
  write_file(dir + "/r/metrics.jsonl",
             "{\"step\":1,\"tokens\":2048,\"loss\":5.5}\n"
             "{\"step\":2,\"tokens\":4096,\"loss\":5.1}\n"
             "{\"step\":3,\"tokens\":6144,\"loss\":4.\n"  // cut short in the middle of the file
             "{\"step\":4,\"tokens\":8192,\"loss\":4.4}\n");
  std::string msg = input_error_of([&] { plot::read_run(dir + "/r"); });
  EXPECT_HAS(msg, dir + "/r/metrics.jsonl:3");
  EXPECT_HAS(msg, "not a JSON object");

  write_file(dir + "/f/metrics.jsonl", "{\"step\":1,\"tokens\":2048,\"loss\":5.5}\n{\"step\":2,\"tokens\":4096}\n");
  msg = input_error_of([&] { plot::read_run(dir + "/f"); });
  EXPECT_HAS(msg, "metrics.jsonl:2");
  EXPECT_HAS(msg, "\"loss\"");

  write_file(dir + "/t/metrics.jsonl", "{\"step\":\"one\",\"tokens\":2048,\"loss\":5.5}\n");
  msg = input_error_of([&] { plot::read_run(dir + "/t"); });
  EXPECT_HAS(msg, "metrics.jsonl:1");
  EXPECT_HAS(msg, "\"step\"");
  EXPECT_HAS(msg, "expected an integer");

  plot_test::write_run(dir + "/e", 3, 0);
  write_file(dir + "/e/eval.jsonl", "{\"step\":10,\"tokens\":20480,\"val_loss\":3.0}\n[1,2]\n");
  msg = input_error_of([&] { plot::read_run(dir + "/e"); });
  EXPECT_HAS(msg, dir + "/e/eval.jsonl:2");
}

TEST(PlotRunData, LineBeingWrittenAtTheEndIsSkipped) {
  // The trainer appends a line at a time: a last line without its newline is still being written.
  const std::string dir = kiln_test::scratch_dir("plot");
  write_file(dir + "/live/metrics.jsonl", "{\"step\":1,\"tokens\":2048,\"loss\":5.5}\n{\"step\":2,\"tok");
  EXPECT_EQ(plot::read_run(dir + "/live").train.size(), 1u);
}

TEST(PlotRunData, LabelsAreFolderNamesOrLongerWhenTheyClash) {
  const std::string dir = kiln_test::scratch_dir("plot");
  for (const char* r : {"a/tiny", "b/tiny", "a/probe", "c/x/deep", "d/x/deep"}) plot_test::write_run(dir + "/" + r, 2, 0);
  std::vector<plot::RunData> runs;
  for (const char* r : {"a/tiny", "b/tiny/", "a/probe", "c/x/deep", "d/x/deep"}) runs.push_back(plot::read_run(dir + "/" + r));
  EXPECT_EQ(runs[1].label, "tiny");  // a trailing slash does not hide the name
  plot::label_runs(runs);
  EXPECT_EQ(runs[0].label, "a/tiny");
  EXPECT_EQ(runs[1].label, "b/tiny");
  EXPECT_EQ(runs[2].label, "probe");
  EXPECT_EQ(runs[3].label, "c/x/deep");
  EXPECT_EQ(runs[4].label, "d/x/deep");
}

}  // namespace
