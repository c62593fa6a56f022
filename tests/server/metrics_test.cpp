// Metrics registry: the text exposition format 0.0.4, checked line by line here and, when
// promtool is installed, by `promtool check metrics` itself.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>


namespace ragd::server {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l == line) return true;
  }
  return false;
}

void fill(MetricsRegistry& m) {
  m.counter("ragd_test_requests_total", "Requests by endpoint\nand status");
  m.gauge("ragd_test_queue_depth", "Waiting requests");
  m.histogram("ragd_test_latency_seconds", "Latency", {0.1, 0.5, 1});
  m.inc("ragd_test_requests_total", {{"endpoint", "/v1/chat"}, {"status", "200"}});
  m.inc("ragd_test_requests_total", {{"endpoint", "/v1/chat"}, {"status", "200"}}, 2);
  m.inc("ragd_test_requests_total", {{"endpoint", "a\"b\\c\nd"}, {"status", "400"}});
  m.set("ragd_test_queue_depth", {{"priority", "0"}}, 3);
  m.observe("ragd_test_latency_seconds", {{"model", "m"}}, 0.0625);
  m.observe("ragd_test_latency_seconds", {{"model", "m"}}, 0.5);
  m.observe("ragd_test_latency_seconds", {{"model", "m"}}, 7);
}

std::string sample_text() {
  MetricsRegistry m;
  fill(m);
  return m.render();
}

TEST(Metrics, RendersCountersGaugesAndCumulativeHistograms) {
  auto text = sample_text();
  EXPECT_TRUE(has_line(text, "# HELP ragd_test_requests_total Requests by endpoint\\nand status")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE ragd_test_requests_total counter"));
  EXPECT_TRUE(has_line(text, "ragd_test_requests_total{endpoint=\"/v1/chat\",status=\"200\"} 3")) << text;
  EXPECT_TRUE(has_line(text, "ragd_test_requests_total{endpoint=\"a\\\"b\\\\c\\nd\",status=\"400\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE ragd_test_queue_depth gauge"));
  EXPECT_TRUE(has_line(text, "ragd_test_queue_depth{priority=\"0\"} 3"));
  EXPECT_TRUE(has_line(text, "# TYPE ragd_test_latency_seconds histogram"));
  EXPECT_TRUE(has_line(text, "ragd_test_latency_seconds_bucket{model=\"m\",le=\"0.1\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "ragd_test_latency_seconds_bucket{model=\"m\",le=\"0.5\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "ragd_test_latency_seconds_bucket{model=\"m\",le=\"1\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "ragd_test_latency_seconds_bucket{model=\"m\",le=\"+Inf\"} 3")) << text;
  EXPECT_TRUE(has_line(text, "ragd_test_latency_seconds_sum{model=\"m\"} 7.5625")) << text;
  EXPECT_TRUE(has_line(text, "ragd_test_latency_seconds_count{model=\"m\"} 3")) << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(Metrics, CountersIgnoreNegativeDeltasAndGaugesClear) {
  MetricsRegistry m;
  fill(m);
  m.inc("ragd_test_requests_total", {{"endpoint", "/v1/chat"}, {"status", "200"}}, -5);
  EXPECT_TRUE(has_line(m.render(), "ragd_test_requests_total{endpoint=\"/v1/chat\",status=\"200\"} 3"));
  m.clear("ragd_test_queue_depth");
  EXPECT_EQ(m.render().find("ragd_test_queue_depth{"), std::string::npos);
}

TEST(Metrics, MisuseIsAProgrammingError) {
  MetricsRegistry m;
  EXPECT_THROW(m.counter("bad name", "x"), std::logic_error);
  EXPECT_THROW(m.inc("ragd_undeclared_total"), std::logic_error);
  m.gauge("ragd_g", "g");
  EXPECT_THROW(m.observe("ragd_g", {}, 1), std::logic_error);
  EXPECT_THROW(m.counter("ragd_g", "again as a counter"), std::logic_error);
}

TEST(Metrics, ValueFormatting) {
  EXPECT_EQ(format_metric_value(1), "1");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_metric_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  EXPECT_EQ(escape_label_value("a\"b"), "a\\\"b");
}

TEST(Metrics, PassesPromtool) {
  if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool not installed";
  auto file = std::filesystem::temp_directory_path() / "ragd_metrics_test.prom";
  {
    std::ofstream out(file);
    out << sample_text();
  }
  std::string cmd = "/usr/bin/promtool check metrics < " + file.string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) output += buf;
  int rc = pclose(p);
  std::filesystem::remove(file);
  EXPECT_EQ(rc, 0) << output;
}

// Request threads count and observe while a scrape renders: totals add up.
TEST(Metrics, ConcurrentUpdatesAndScrapes) {
  MetricsRegistry m;
  m.counter("ragd_test_total", "Requests");
  m.histogram("ragd_test_seconds", "Latency", {0.1, 1});
  m.gauge("ragd_test_gauge", "Refilled by scrapes");
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done) {
      m.clear("ragd_test_gauge");
      m.set("ragd_test_gauge", {}, 1);
      EXPECT_NE(m.render().find("ragd_test_total"), std::string::npos);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        m.inc("ragd_test_total", {{"worker", std::to_string(t % 2)}});
        m.observe("ragd_test_seconds", {}, 0.05 * (i % 30));
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "ragd_test_total{worker=\"0\"} 2000")) << text;
  EXPECT_TRUE(has_line(text, "ragd_test_total{worker=\"1\"} 2000")) << text;
  EXPECT_TRUE(has_line(text, "ragd_test_seconds_count 4000")) << text;
}

}  // namespace
}  // namespace ragd::server
