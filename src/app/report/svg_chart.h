// Small, dependency-free SVG charts for benchmark reports (report.html embeds them inline,
// so a report is one self-contained file). Two kinds: a line chart of (x, y) series and a
// grouped bar chart of categories x series.
//
// Invariants: every piece of caller text (titles, labels, series names) is XML-escaped;
// NaN and infinite values are skipped (a line breaks there, a bar is left out); a chart
// with nothing to draw renders a "no data" notice instead of axes; a range of one value is
// widened so a single point sits inside the plot, never on a zero-width axis.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ragd::app::report {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_x = false;  // base-10 x axis; falls back to linear if any finite x <= 0
};

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category; missing trailing values count as NaN
};

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
};

// Axis range [lo, hi] with "nice" tick marks (1, 2 or 5 times a power of ten).
struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
};

// Range over finite values only. include_zero: start at 0 when all values are positive
// (bars, rates). One distinct value v gives a range around it; no values give [0, 1].
Axis nice_axis(const std::vector<double>& values, bool include_zero);
// Ticks at powers of ten covering [lo, hi] (both > 0).
Axis log_axis(double lo, double hi);

std::string xml_escape(std::string_view text);
// Short tick/value label: 3 significant digits, k/M suffixes for large numbers.
std::string format_number(double v);

std::string render_line_chart(const LineChart& chart);
std::string render_bar_chart(const BarChart& chart);

}  // namespace ragd::app::report
