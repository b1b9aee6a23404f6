// plot/canvas.cpp
#include "plot/canvas.h"

#include <numbers>

namespace plot {

void set_colour(cairo_t* cr, Rgb c, double alpha) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha); }

void set_font(cairo_t* cr, double size_px, bool bold) {
  cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size_px);
}

double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  return e.x_advance;
}

void draw_text(cairo_t* cr, const std::string& text, double x, double y, HAlign h, VAlign v) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  const double w = text_width(cr, text);
  double left = x;
  if (h == HAlign::kCenter) left -= w / 2;
  if (h == HAlign::kRight) left -= w;
  double baseline = y;
  if (v == VAlign::kTop) baseline += fe.ascent;
  if (v == VAlign::kMiddle) baseline += (fe.ascent - fe.descent) / 2;
  if (v == VAlign::kBottom) baseline -= fe.descent;
  cairo_move_to(cr, left, baseline);
  cairo_show_text(cr, text.c_str());
  cairo_new_path(cr);  // show_text leaves the current point: start the next path clean
}

void draw_text_vertical(cairo_t* cr, const std::string& text, double x, double y) {
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, -std::numbers::pi / 2);  // text runs upwards
  draw_text(cr, text, 0, 0, HAlign::kCenter, VAlign::kMiddle);
  cairo_restore(cr);
}

std::string fit_text(cairo_t* cr, const std::string& text, double max_width) {
  if (text_width(cr, text) <= max_width) return text;
  std::string cut = text;
  // Drop whole UTF-8 characters (never a continuation byte alone) until "cut..." fits.
  while (!cut.empty()) {
    while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xC0) == 0x80) cut.pop_back();
    if (!cut.empty()) cut.pop_back();  // the character's first (or only) byte
    if (text_width(cr, cut + "...") <= max_width) break;
  }
  return cut + "...";
}

}  // namespace plot
