#include "app/report/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ragd::app::report {
namespace {

constexpr double kWidth = 720, kHeight = 340;
constexpr double kLeft = 70, kRight = 170, kTop = 40, kBottom = 55;  // plot margins
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};
constexpr size_t kNumColors = sizeof(kColors) / sizeof(kColors[0]);

const char* color(size_t i) { return kColors[i % kNumColors]; }

double nice_step(double span, int target_ticks) {
  const double raw = span / target_ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

std::string open_svg(const std::string& title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"#fff\"/>\n"
      "<text x=\"{3}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{2}</text>\n",
      kWidth, kHeight, xml_escape(title), kWidth / 2);
}

std::string no_data(const std::string& title) {
  return open_svg(title) +
         fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777\" "
                     "font-size=\"14\">no data</text>\n</svg>\n",
                     kWidth / 2, kHeight / 2);
}

// Horizontal grid lines with y tick labels, the y-axis title, and the plot frame.
std::string y_axis(const Axis& y, const std::string& y_label) {
  std::string s;
  for (double t : y.ticks) {
    const double py = kTop + kPlotH - (t - y.lo) / (y.hi - y.lo) * kPlotH;
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>\n"
                     "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\n",
                     kLeft, py, kLeft + kPlotW, py, kLeft - 6, py, xml_escape(format_number(t)));
  }
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n",
                   kLeft, kTop, kPlotW, kPlotH);
  s += fmt::format("<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   kTop + kPlotH / 2, xml_escape(y_label));
  return s;
}

std::string legend(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    const double y = kTop + 8 + 20.0 * static_cast<double>(i);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n"
                     "<text x=\"{}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>\n",
                     kLeft + kPlotW + 14, y - 6, color(i), kLeft + kPlotW + 32, y, xml_escape(names[i]));
  }
  return s;
}

// A category label under its bar group: split at spaces into at most two lines of about
// `width` pixels, the rest cut with an ellipsis; the full text stays in a tooltip.
std::string category_label(const std::string& text, double cx, double y, double width) {
  const size_t max_chars = std::max<size_t>(4, static_cast<size_t>(width / 6.5));
  std::vector<std::string> lines(1);
  std::string word;
  auto place = [&](const std::string& w) {
    if (w.empty()) return;
    if (!lines.back().empty() && lines.back().size() + 1 + w.size() > max_chars) lines.emplace_back();
    lines.back() += (lines.back().empty() ? "" : " ") + w;
  };
  for (char c : text + " ") {
    if (c == ' ') {
      place(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (lines.size() > 2) {
    lines.resize(2);
    lines[1] += "\u2026";
  }
  for (auto& l : lines) {
    if (l.size() > max_chars + 3) l = l.substr(0, max_chars - 1) + "\u2026";
  }
  std::string s = fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\"><title>{}</title>", cx, y,
                              xml_escape(text));
  for (size_t i = 0; i < lines.size(); ++i) {
    s += fmt::format("<tspan x=\"{:.1f}\" dy=\"{}\">{}</tspan>", cx, i == 0 ? 0 : 14, xml_escape(lines[i]));
  }
  return s + "</text>\n";
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0 at all.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string format_number(double v) {
  if (!std::isfinite(v)) return "-";
  const double a = std::fabs(v);
  if (a >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:.3g}k", v / 1e3);
  if (a >= 100) return fmt::format("{:.0f}", v);
  return fmt::format("{:.3g}", v);
}

Axis nice_axis(const std::vector<double>& values, bool include_zero) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) {  // no finite values
    lo = 0;
    hi = 1;
  }
  if (include_zero) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
  if (hi - lo <= std::fabs(hi) * 1e-12) {  // one distinct value: centre it
    const double pad = hi == 0 ? 1 : std::fabs(hi) * 0.5;
    lo = (include_zero && lo >= 0) ? 0 : lo - pad;
    hi += pad;
  }
  Axis axis;
  const double step = nice_step(hi - lo, 5);
  axis.lo = std::floor(lo / step) * step;
  axis.hi = std::ceil(hi / step) * step;
  for (double t = axis.lo; t <= axis.hi + step * 1e-9; t += step) axis.ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  return axis;
}

Axis log_axis(double lo, double hi) {
  Axis axis;
  double e_lo = std::floor(std::log10(lo)), e_hi = std::ceil(std::log10(hi));
  if (e_hi <= e_lo) e_hi = e_lo + 1;
  axis.lo = std::pow(10.0, e_lo);
  axis.hi = std::pow(10.0, e_hi);
  for (double e = e_lo; e <= e_hi; ++e) axis.ticks.push_back(std::pow(10.0, e));
  return axis;
}

std::string render_line_chart(const LineChart& chart) {
  std::vector<double> xs, ys;
  for (const auto& s : chart.series) {
    for (const auto& [x, y] : s.points) {
      if (std::isfinite(x) && std::isfinite(y)) {
        xs.push_back(x);
        ys.push_back(y);
      }
    }
  }
  if (xs.empty()) return no_data(chart.title);
  const bool log_x = chart.log_x && *std::min_element(xs.begin(), xs.end()) > 0;
  const Axis x = log_x ? log_axis(*std::min_element(xs.begin(), xs.end()), *std::max_element(xs.begin(), xs.end()))
                       : nice_axis(xs, false);
  const Axis y = nice_axis(ys, true);
  auto px = [&](double v) {
    const double f = log_x ? (std::log10(v) - std::log10(x.lo)) / (std::log10(x.hi) - std::log10(x.lo))
                           : (v - x.lo) / (x.hi - x.lo);
    return kLeft + f * kPlotW;
  };
  auto py = [&](double v) { return kTop + kPlotH - (v - y.lo) / (y.hi - y.lo) * kPlotH; };

  std::string s = open_svg(chart.title) + y_axis(y, chart.y_label);
  for (double t : x.ticks) {
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", px(t),
                     kTop + kPlotH + 16, xml_escape(format_number(t)));
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", kLeft + kPlotW / 2,
                   kHeight - 12, xml_escape(chart.x_label + (log_x ? " (log scale)" : "")));
  std::vector<std::string> names;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    names.push_back(chart.series[i].name);
    std::string path;
    bool pen_down = false;  // a non-finite point lifts the pen: the line breaks there
    for (const auto& [vx, vy] : chart.series[i].points) {
      if (!std::isfinite(vx) || !std::isfinite(vy)) {
        pen_down = false;
        continue;
      }
      path += fmt::format("{}{:.1f},{:.1f} ", pen_down ? "L" : "M", px(vx), py(vy));
      pen_down = true;
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{}: {}</title></circle>\n",
                       px(vx), py(vy), color(i), xml_escape(chart.series[i].name), xml_escape(format_number(vy)));
    }
    if (!path.empty()) {
      s += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", path, color(i));
    }
  }
  return s + legend(names) + "</svg>\n";
}

std::string render_bar_chart(const BarChart& chart) {
  std::vector<double> values;
  for (const auto& s : chart.series) {
    for (size_t c = 0; c < std::min(s.values.size(), chart.categories.size()); ++c) {
      if (std::isfinite(s.values[c])) values.push_back(s.values[c]);
    }
  }
  if (values.empty() || chart.series.empty()) return no_data(chart.title);
  const Axis y = nice_axis(values, true);
  auto py = [&](double v) { return kTop + kPlotH - (v - y.lo) / (y.hi - y.lo) * kPlotH; };
  std::string s = open_svg(chart.title) + y_axis(y, chart.y_label);
  const double group_w = kPlotW / static_cast<double>(chart.categories.size());
  const double bar_w = group_w * 0.8 / static_cast<double>(chart.series.size());
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    const double gx = kLeft + group_w * static_cast<double>(c);
    s += category_label(chart.categories[c], gx + group_w / 2, kTop + kPlotH + 16, group_w);
    for (size_t i = 0; i < chart.series.size(); ++i) {
      const auto& vals = chart.series[i].values;
      if (c >= vals.size() || !std::isfinite(vals[c])) continue;
      const double top = py(std::max(vals[c], 0.0)), base = py(std::min(vals[c], 0.0));
      s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
                       "<title>{} / {}: {}</title></rect>\n",
                       gx + group_w * 0.1 + bar_w * static_cast<double>(i), top, bar_w, base - top, color(i),
                       xml_escape(chart.categories[c]), xml_escape(chart.series[i].name),
                       xml_escape(format_number(vals[c])));
    }
  }
  std::vector<std::string> names;
  for (const auto& se : chart.series) names.push_back(se.name);
  return s + legend(names) + "</svg>\n";
}

}  // namespace ragd::app::report
