// tests/plot/test_render.cpp
// Files written by plot::write_plot: the SVG's words and one <path> per series, the PNG's signature
// and size, and the errors for bad --out values and options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "plot/render.h"
#include "tests/common/test_support.h"
#include "tests/plot/plot_test_util.h"

namespace {

namespace fs = std::filesystem;
using kiln_test::input_error_of;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs "alpha" (with evaluations) and "beta" (without) under dir.
std::vector<plot::RunData> two_runs(const std::string& dir) {
  plot_test::write_run(dir + "/alpha", 30, 3);
  plot_test::write_run(dir + "/beta", 20, 0);
  std::vector<plot::RunData> runs = {plot::read_run(dir + "/alpha"), plot::read_run(dir + "/beta")};
  plot::label_runs(runs);
  return runs;
}

// The stroke colours of the stroked, unfilled <path>s (lines), in order of first appearance, with
// how many paths use each. Greys (frame, grid, the legend's line samples) are left out: runs are
// coloured.
std::vector<std::pair<std::string, int>> coloured_line_paths(const std::string& svg) {
  std::vector<std::pair<std::string, int>> colours;
  const std::regex path(R"(<path style="fill:none;[^"]*stroke:(rgb\(([0-9.]+)%,([0-9.]+)%,([0-9.]+)%\)))");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), path); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    if (m[2] == m[3] && m[3] == m[4]) continue;  // grey
    auto found = std::find_if(colours.begin(), colours.end(), [&](const auto& c) { return c.first == m[1]; });
    if (found == colours.end()) colours.push_back({m[1], 1});
    else ++found->second;
  }
  return colours;
}

TEST(PlotRender, SvgNamesRunsAndAxesAndHasOnePathPerSeries) {
  const std::string dir = kiln_test::scratch_dir("plot");
  plot::PlotOptions o;
  o.out = dir + "/curves.svg";
  plot::write_plot(two_runs(dir), o);
  const std::string svg = read_all(o.out);
  ASSERT_FALSE(svg.empty());
  EXPECT_HAS(svg, "<svg");
  EXPECT_HAS(svg, "width=\"1600px\"");
  EXPECT_HAS(svg, "height=\"1000px\"");
  EXPECT_HAS(svg, "<title>kiln training curves: alpha, beta</title>");
  // Panel and axis titles, in the <desc> (XML-escaped quotes).
  for (const std::string words : {"&quot;loss vs step&quot;", "&quot;loss vs tokens&quot;", "&quot;val perplexity vs step&quot;",
                                  "&quot;val perplexity vs tokens&quot;", "x axis &quot;step&quot;", "x axis &quot;tokens&quot;",
                                  "y axis &quot;loss (nats)&quot;", "y axis &quot;val perplexity&quot;"})
    EXPECT_HAS(svg, words);
  EXPECT_HAS(svg, "alpha, validation");
  EXPECT_EQ(svg.find("beta, validation"), std::string::npos) << "beta has no eval.jsonl";

  // alpha: raw + smoothed in the two loss panels, validation in all four = 8 lines;
  // beta: raw + smoothed in the two loss panels = 4 lines.
  const auto lines = coloured_line_paths(svg);
  ASSERT_EQ(lines.size(), 2u) << svg.substr(0, 2000);
  EXPECT_EQ(lines[0].second, 8) << lines[0].first;
  EXPECT_EQ(lines[1].second, 4) << lines[1].first;
  EXPECT_FALSE(fs::exists(o.out + ".tmp"));
}

TEST(PlotRender, PngHasTheSignatureAndTheRequestedSize) {
  const std::string dir = kiln_test::scratch_dir("plot");
  plot::PlotOptions o;
  o.out = dir + "/sub/folder/curves.PNG";  // parent folders are created; the extension's case does not matter
  o.width = 1000;
  o.height = 640;
  plot::write_plot(two_runs(dir), o);
  const std::string png = read_all(o.out);
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");  // the first chunk, after its 4-byte length
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png[at + i]);
    return v;
  };
  EXPECT_EQ(be32(16), 1000u);
  EXPECT_EQ(be32(20), 640u);
}

TEST(PlotRender, DefaultSizeIs1600By1000) {
  const std::string dir = kiln_test::scratch_dir("plot");
  plot::PlotOptions o;
  o.out = dir + "/c.png";
  plot::write_plot(two_runs(dir), o);
  const std::string png = read_all(o.out);
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(static_cast<unsigned char>(png[18]) * 256 + static_cast<unsigned char>(png[19]), 1600);
  EXPECT_EQ(static_cast<unsigned char>(png[22]) * 256 + static_cast<unsigned char>(png[23]), 1000);
}

TEST(PlotRender, UnknownExtensionNamesTheOutValue) {
  const std::string dir = kiln_test::scratch_dir("plot");
  const auto runs = two_runs(dir);
  for (const std::string name : {"curves.jpg", "curves", "curves.svg.bak"}) {
    plot::PlotOptions o;
    o.out = dir + "/" + name;
    const std::string msg = input_error_of([&] { plot::write_plot(runs, o); });
    EXPECT_HAS(msg, "--out " + o.out);
    EXPECT_HAS(msg, ".svg or .png expected");
    EXPECT_FALSE(fs::exists(o.out));
  }
}

TEST(PlotRender, BadOptionsNameTheirFlag) {
  const std::string dir = kiln_test::scratch_dir("plot");
  const auto runs = two_runs(dir);
  plot::PlotOptions o;
  o.out = dir + "/c.svg";
  o.smoothing = 1.0;
  EXPECT_HAS(input_error_of([&] { plot::write_plot(runs, o); }), "--smoothing 1");
  o.smoothing = -0.1;
  EXPECT_HAS(input_error_of([&] { plot::write_plot(runs, o); }), "--smoothing -0.1");
  o.smoothing = 0.0;
  o.width = 10;
  EXPECT_HAS(input_error_of([&] { plot::write_plot(runs, o); }), "--width 10");
  o.width = 1600;
  o.height = 100000;
  EXPECT_HAS(input_error_of([&] { plot::write_plot(runs, o); }), "--height 100000");
}

TEST(PlotRender, UnwritableFileIsAnErrorNamingIt) {
  const std::string dir = kiln_test::scratch_dir("plot");
  const auto runs = two_runs(dir);
  kiln_test::write_file(dir + "/a-file", "not a folder\n");
  plot::PlotOptions o;
  o.out = dir + "/a-file/curves.svg";  // its "folder" is a file
  EXPECT_HAS(input_error_of([&] { plot::write_plot(runs, o); }), "cannot write --out " + o.out);
}

}  // namespace
