#include "app/report/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>

#include "app/report/bench_report.h"
#include "app/report/html_report.h"

namespace ragd::app::report {
namespace {

// "nan"/"inf" printed as a number anywhere (after dropping the one attribute name that
// contains "nan").
bool prints_non_finite(std::string s) {
  for (size_t p; (p = s.find("dominant-baseline")) != std::string::npos;) s.erase(p, 17);
  return s.find("nan") != std::string::npos || s.find("inf") != std::string::npos;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(SvgChart, EscapesCallerText) {
  LineChart c{"<b>Title</b> & \"q\"", "x's", "y<1", {{"a&b <c>", {{1, 2}, {2, 3}}}}, false};
  const std::string svg = render_line_chart(c);
  EXPECT_NE(svg.find("&lt;b&gt;Title&lt;/b&gt; &amp; &quot;q&quot;"), std::string::npos);
  EXPECT_NE(svg.find("x&#39;s"), std::string::npos);
  EXPECT_NE(svg.find("y&lt;1"), std::string::npos);
  EXPECT_NE(svg.find("a&amp;b &lt;c&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  EXPECT_EQ(svg.find("a&b"), std::string::npos);
  BarChart b{"t", "y", {"<q4_1>"}, {{"s\"1", {1.0}}}};
  const std::string bars = render_bar_chart(b);
  EXPECT_NE(bars.find("&lt;q4_1&gt;"), std::string::npos);
  EXPECT_NE(bars.find("s&quot;1"), std::string::npos);
}

TEST(SvgChart, EscapeReplacesControlCharacters) { EXPECT_EQ(xml_escape("a\x01" "b\tc"), "a b\tc"); }

TEST(SvgChart, OnePointGetsARangeAroundIt) {
  const Axis a = nice_axis({5.0}, false);
  EXPECT_LT(a.lo, 5.0);
  EXPECT_GT(a.hi, 5.0);
  EXPECT_GE(a.ticks.size(), 2u);
  const Axis z = nice_axis({0.0}, false);
  EXPECT_LT(z.lo, z.hi);
  const Axis bars = nice_axis({7.0}, true);
  EXPECT_EQ(bars.lo, 0.0);
  EXPECT_GE(bars.hi, 7.0);
  // A chart of one point draws it: one marker, a path of a single move.
  const std::string svg = render_line_chart({"one", "x", "y", {{"s", {{3, 42}}}}, true});
  EXPECT_EQ(count(svg, "<circle"), 1u);
  EXPECT_EQ(svg.find("no data"), std::string::npos);
  EXPECT_FALSE(prints_non_finite(svg));
}

TEST(SvgChart, AxisCoversValuesWithNiceTicks) {
  const Axis a = nice_axis({3.0, 97.0}, true);
  EXPECT_EQ(a.lo, 0.0);
  EXPECT_GE(a.hi, 97.0);
  EXPECT_LE(a.hi, 200.0);
  ASSERT_GE(a.ticks.size(), 3u);
  EXPECT_EQ(a.ticks.front(), a.lo);
  EXPECT_NEAR(a.ticks.back(), a.hi, 1e-9);
  const Axis l = log_axis(10, 1000);
  EXPECT_EQ(l.lo, 10.0);
  EXPECT_EQ(l.hi, 1000.0);
  EXPECT_EQ(l.ticks.size(), 3u);
}

TEST(SvgChart, EmptySeriesSaysNoData) {
  EXPECT_NE(render_line_chart({"empty", "x", "y", {}, false}).find(">no data<"), std::string::npos);
  EXPECT_NE(render_line_chart({"empty", "x", "y", {{"s", {}}}, false}).find(">no data<"), std::string::npos);
  EXPECT_NE(render_bar_chart({"empty", "y", {"a"}, {}}).find(">no data<"), std::string::npos);
  EXPECT_NE(render_bar_chart({"empty", "y", {}, {{"s", {}}}}).find(">no data<"), std::string::npos);
  const std::string svg = render_line_chart({"empty", "x", "y", {}, false});
  EXPECT_EQ(svg.find("<circle"), std::string::npos);
  EXPECT_EQ(svg.find("<path"), std::string::npos);
}

TEST(SvgChart, NonFiniteValuesAreSkipped) {
  const double nan = std::nan("");
  const std::string svg =
      render_line_chart({"gaps", "x", "y", {{"s", {{1, 1}, {2, nan}, {3, 3}, {INFINITY, 4}, {5, 5}}}}, false});
  EXPECT_EQ(count(svg, "<circle"), 3u);
  EXPECT_FALSE(prints_non_finite(svg));
  // The line breaks at the gap: two separate moves (M), not one continuous path.
  const auto d = svg.find(" d=\"");
  ASSERT_NE(d, std::string::npos);
  EXPECT_EQ(count(svg.substr(d, svg.find('"', d + 4) - d), "M"), 3u);
  const std::string only_nan = render_line_chart({"nan", "x", "y", {{"s", {{1, nan}}}}, false});
  EXPECT_NE(only_nan.find(">no data<"), std::string::npos);
  const std::string bars = render_bar_chart({"b", "y", {"a", "b", "c"}, {{"s", {1.0, nan, 2.0}}}});
  EXPECT_EQ(count(bars, "<rect x="), 2u + 2u);  // two bars, the plot frame, one legend key
  EXPECT_FALSE(prints_non_finite(bars));
}

TEST(SvgChart, LogAxisFallsBackToLinearForNonPositiveX) {
  const std::string svg = render_line_chart({"t", "docs", "ms", {{"s", {{0, 1}, {10, 2}}}}, true});
  EXPECT_EQ(svg.find("log scale"), std::string::npos);
  const std::string log = render_line_chart({"t", "docs", "ms", {{"s", {{1, 1}, {10, 2}}}}, true});
  EXPECT_NE(log.find("log scale"), std::string::npos);
}

TEST(HtmlReport, IsSelfContainedAndEscaped) {
  HtmlReport r("A <report>");
  r.heading("h & h");
  r.table({"<k>"}, {{"v&"}});
  r.svg(render_bar_chart({"b", "y", {"a"}, {{"s", {1.0}}}}));
  const std::string html = r.str();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>A &lt;report&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<h2>h &amp; h</h2>"), std::string::npos);
  EXPECT_NE(html.find("<th>&lt;k&gt;</th>"), std::string::npos);
  EXPECT_NE(html.find("<td>v&amp;</td>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
}

TEST(BenchReport, RendersKnownBenchmarksAndFailures) {
  nlohmann::json results = {
      {"throughput",
       {{"url", "http://x"},
        {"levels",
         {{{"concurrency", 1}, {"requests", 4}, {"window_seconds", 2.0}, {"tokens_per_second", 30.5},
           {"ttft_ms", {{"p50", 12.0}, {"p95", 20.0}}}, {"latency_ms", {{"p50", 100}, {"p95", 120}, {"max", 130}}}}}}}},
      {"inference", {{{"model", "m.gguf"}, {"type", "Q4_1"}, {"prompt_tokens_per_s", 300.0}, {"gen_tokens_per_s", 50.0}}}},
      {"rag", {{"results", {{{"documents", 10}, {"bm25_latency_ms_p50", 0.1}}}}}},
      {"memory", {{"error", "`ragd bench memory` failed (exit 1)"}}}};
  const std::string html = render_bench_report(results);
  EXPECT_NE(html.find("Generated tokens/s against concurrency"), std::string::npos);
  EXPECT_NE(html.find("Time to first token against concurrency"), std::string::npos);
  EXPECT_NE(html.find("Tokens/s by quantization"), std::string::npos);
  EXPECT_NE(html.find("Q4_1"), std::string::npos);
  EXPECT_NE(html.find("Search latency against document count"), std::string::npos);
  EXPECT_NE(html.find("Failed: `ragd bench memory` failed (exit 1)"), std::string::npos);
  EXPECT_NE(render_bench_report(nlohmann::json::object()).find("No benchmark results."), std::string::npos);
}

}  // namespace
}  // namespace ragd::app::report
