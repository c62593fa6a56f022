// MetricsRegistry: a small Prometheus client — counters, gauges and histograms with labels,
// rendered in the text exposition format 0.0.4 (what `promtool check metrics` checks).
//
// A family is declared once (name, help, type, and for histograms the bucket bounds);
// series are created on first use of a label set. Names must match
// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (checked at declaration,
// misuse is a programming error and throws std::logic_error). Label values are escaped on
// output. Families render in declaration order, series in label order, so output is stable.
//
// Thread-safe: one mutex; every operation is a map lookup and an add, cheap enough for
// per-token observations at the rates one CPU server reaches.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ragd::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { Counter, Gauge, Histogram };

class MetricsRegistry {
 public:
  void counter(const std::string& name, const std::string& help);
  void gauge(const std::string& name, const std::string& help);
  void histogram(const std::string& name, const std::string& help, std::vector<double> buckets);

  // Counters only go up: a negative delta is ignored.
  void inc(const std::string& name, const Labels& labels = {}, double delta = 1);
  // Gauges; also counters mirrored from a cumulative count kept elsewhere (scheduler
  // stats), which Prometheus treats as a reset if the source restarts from zero.
  void set(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, const Labels& labels, double value);
  // Drops every series of a gauge (or mirrored counter) family (before refilling it from a fresh snapshot, so
  // that series of things that went away — an unloaded model — disappear).
  void clear(const std::string& name);

  std::string render() const;

  // Exponential bucket bounds: start, start*factor, ... (count bounds).
  static std::vector<double> exponential_buckets(double start, double factor, size_t count);

 private:
  struct Series {
    double value = 0;                // counter / gauge
    std::vector<uint64_t> counts;    // histogram: per bucket (not cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    std::string name, help;
    MetricType type = MetricType::Counter;
    std::vector<double> buckets;
    std::map<Labels, Series> series;
  };
  Family& declare(const std::string& name, const std::string& help, MetricType type);
  Family& find(const std::string& name, MetricType type);

  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// Prometheus number formatting: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string format_metric_value(double v);
// Label value escaping: backslash, double quote and newline.
std::string escape_label_value(const std::string& v);

}  // namespace ragd::server
