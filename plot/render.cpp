// plot/render.cpp
// Surfaces and files: an SVG surface (with a <title> and <desc> added) or an image surface encoded
// as PNG, both written into memory by cairo and then to disk by us, so every write error is ours to
// report with the file name.
#include "plot/render.h"

// KILN_WITH_PLOT=OFF (a machine without cairo's headers, e.g. a bare GPU image): the options are
// still checked, then write_plot refuses with exit 2 instead of drawing (plot/CMakeLists.txt).
#if KILN_HAVE_CAIRO
#include <cairo-svg.h>
#include <cairo.h>
#endif

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "kernels/check.h"
#if KILN_HAVE_CAIRO
#include "plot/draw.h"
#include "plot/figure.h"
#endif

namespace plot {
namespace {

namespace fs = std::filesystem;

// Limits that keep a typo (--width 160000) from asking cairo for gigabytes; cairo's own limit is 32767.
constexpr int kMinWidth = 640, kMinHeight = 400, kMaxSide = 16000;

#if KILN_HAVE_CAIRO
// cairo's stream callback: append to the std::string behind `closure`.
cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check_cairo(cairo_status_t status, const std::string& out, const char* stage) {
  if (status != CAIRO_STATUS_SUCCESS)
    throw std::runtime_error("plot: cairo failed " + std::string(stage) + " " + out + ": " + cairo_status_to_string(status));
}

std::string xml_escape(const std::string& s) {
  std::string e;
  for (const char c : s) {
    switch (c) {
      case '&': e += "&amp;"; break;
      case '<': e += "&lt;"; break;
      case '>': e += "&gt;"; break;
      case '"': e += "&quot;"; break;
      default: e += c;
    }
  }
  return e;
}

// Draws the figure on `surface` and finishes it, checking cairo's status at each stage.
void paint(cairo_surface_t* surface, const Figure& f, const PlotOptions& o) {
  check_cairo(cairo_surface_status(surface), o.out, "creating the surface for");
  cairo_t* cr = cairo_create(surface);
  draw_figure(cr, f, o.width, o.height);
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  check_cairo(drawn, o.out, "drawing");
}

std::string render_svg(const Figure& f, const PlotOptions& o) {
  std::string svg;
  cairo_surface_t* s = cairo_svg_surface_create_for_stream(append_bytes, &svg, o.width, o.height);
  cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);  // width="1600px", not points
  paint(s, f, o);
  cairo_surface_finish(s);  // flushes the document into `svg`
  const cairo_status_t status = cairo_surface_status(s);
  cairo_surface_destroy(s);
  check_cairo(status, o.out, "writing SVG for");
  // cairo writes text as glyph outlines: a <title> and <desc> keep the figure's words in the file
  // for screen readers, search, and tests. They go right after the opening <svg ...> tag.
  const size_t root = svg.find("<svg");
  const size_t after = root == std::string::npos ? root : svg.find('>', root);
  KILN_CHECK(after != std::string::npos, "cairo's SVG output has no <svg> root element");
  svg.insert(after + 1, "\n<title>" + xml_escape(f.title) + "</title>\n<desc>" + xml_escape(describe_figure(f)) + "</desc>");
  return svg;
}

std::string render_png(const Figure& f, const PlotOptions& o) {
  // RGB24: the page is opaque, and a PNG without an alpha channel is smaller.
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, o.width, o.height);
  paint(s, f, o);
  std::string png;
  const cairo_status_t status = cairo_surface_write_to_png_stream(s, append_bytes, &png);
  cairo_surface_destroy(s);
  check_cairo(status, o.out, "encoding PNG for");
  return png;
}

#endif  // KILN_HAVE_CAIRO

void write_file_whole(const std::string& out, const std::string& bytes) {
  const fs::path path(out);
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  const std::string tmp = out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    f.close();
    if (!f) {
      fs::remove(tmp, ec);
      throw kernels::InputError("plot: cannot write --out " + out + " (is its folder writable?)");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw kernels::InputError("plot: cannot write --out " + out + ": " + ec.message());
  }
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void validate(const PlotOptions& o) {
  KILN_REQUIRE_INPUT(o.smoothing >= 0 && o.smoothing < 1,
                     "plot: --smoothing " + number(o.smoothing) + " is out of range (expected 0 <= W < 1; 0 = none)");
  KILN_REQUIRE_INPUT(o.width >= kMinWidth && o.width <= kMaxSide,
                     "plot: --width " + std::to_string(o.width) + " is out of range (expected " +
                         std::to_string(kMinWidth) + ".." + std::to_string(kMaxSide) + " px)");
  KILN_REQUIRE_INPUT(o.height >= kMinHeight && o.height <= kMaxSide,
                     "plot: --height " + std::to_string(o.height) + " is out of range (expected " +
                         std::to_string(kMinHeight) + ".." + std::to_string(kMaxSide) + " px)");
  KILN_REQUIRE_INPUT(!o.out.empty(), "plot: --out is empty (expected FILE.svg or FILE.png)");
}

}  // namespace

Format format_of(const std::string& out) {
  std::string ext = fs::path(out).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ext == ".svg") return Format::kSvg;
  if (ext == ".png") return Format::kPng;
  throw kernels::InputError("plot: --out " + out + " has an unknown extension (.svg or .png expected)");
}

void write_plot(const std::vector<RunData>& runs, const PlotOptions& o) {
  validate(o);
  const Format format = format_of(o.out);  // before any drawing: a typo fails fast
  KILN_REQUIRE_INPUT(!runs.empty(), "plot: no run folders given (expected at least one RUN_DIR)");
#if KILN_HAVE_CAIRO
  const Figure f = build_figure(runs, o.smoothing);
  write_file_whole(o.out, format == Format::kSvg ? render_svg(f, o) : render_png(f, o));
#else
  (void)format;
  (void)write_file_whole;
  throw kernels::InputError("plot: this kiln was built without cairo (configured with -DKILN_WITH_PLOT=OFF), so it "
                            "cannot write " + o.out + "; install cairo's headers (libcairo2-dev) and rebuild, or "
                            "plot the run folder with a kiln built with them");
#endif
}

}  // namespace plot
