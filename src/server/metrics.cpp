#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ragd::server {
namespace {

bool valid_name(const std::string& s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string escape_help(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void append_labels(std::string& out, const Labels& labels, const char* extra_name = nullptr,
                   const std::string& extra_value = "") {
  if (labels.empty() && !extra_name) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  if (extra_name) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::vector<double> MetricsRegistry::exponential_buckets(double start, double factor, size_t count) {
  std::vector<double> b;
  double v = start;
  for (size_t i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

MetricsRegistry::Family& MetricsRegistry::declare(const std::string& name, const std::string& help,
                                                  MetricType type) {
  if (!valid_name(name, true)) throw std::logic_error("invalid metric name: " + name);
  std::lock_guard lock(mu_);
  auto [it, inserted] = families_.try_emplace(name);
  if (!inserted) {
    if (it->second.type != type) throw std::logic_error("metric redeclared with another type: " + name);
    return it->second;
  }
  it->second.name = name;
  it->second.help = help;
  it->second.type = type;
  order_.push_back(name);
  return it->second;
}

void MetricsRegistry::counter(const std::string& name, const std::string& help) {
  declare(name, help, MetricType::Counter);
}

void MetricsRegistry::gauge(const std::string& name, const std::string& help) {
  declare(name, help, MetricType::Gauge);
}

void MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                std::vector<double> buckets) {
  std::sort(buckets.begin(), buckets.end());
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  if (!buckets.empty() && std::isinf(buckets.back())) buckets.pop_back();  // +Inf is implicit
  auto& f = declare(name, help, MetricType::Histogram);
  std::lock_guard lock(mu_);
  f.buckets = std::move(buckets);
}

MetricsRegistry::Family& MetricsRegistry::find(const std::string& name, MetricType type) {
  auto it = families_.find(name);
  if (it == families_.end()) throw std::logic_error("undeclared metric: " + name);
  if (it->second.type != type) throw std::logic_error(std::string("metric is not a ") + type_name(type) + ": " + name);
  return it->second;
}

void MetricsRegistry::inc(const std::string& name, const Labels& labels, double delta) {
  if (!(delta >= 0)) return;
  std::lock_guard lock(mu_);
  find(name, MetricType::Counter).series[labels].value += delta;
}

void MetricsRegistry::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end() && it->second.type == MetricType::Counter) {
    it->second.series[labels].value = value;  // a counter mirrored from another object
    return;
  }
  find(name, MetricType::Gauge).series[labels].value = value;
}

void MetricsRegistry::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  Family& f = find(name, MetricType::Histogram);
  Series& s = f.series[labels];
  if (s.counts.empty()) s.counts.assign(f.buckets.size() + 1, 0);
  size_t i = std::lower_bound(f.buckets.begin(), f.buckets.end(), value) - f.buckets.begin();
  ++s.counts[i];  // i == buckets.size(): only the +Inf bucket
  ++s.count;
  s.sum += value;
}

void MetricsRegistry::clear(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type == MetricType::Histogram) {
    throw std::logic_error("clear() needs a declared counter or gauge: " + name);
  }
  it->second.series.clear();
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& name : order_) {
    const Family& f = families_.at(name);
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help(f.help), f.name, type_name(f.type));
    for (const auto& [labels, s] : f.series) {
      if (f.type != MetricType::Histogram) {
        out += f.name;
        append_labels(out, labels);
        out += ' ';
        out += format_metric_value(s.value);
        out += '\n';
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= f.buckets.size(); ++i) {
        cumulative += s.counts[i];
        out += f.name + "_bucket";
        append_labels(out, labels, "le", i < f.buckets.size() ? format_metric_value(f.buckets[i]) : "+Inf");
        out += fmt::format(" {}\n", cumulative);
      }
      out += f.name + "_sum";
      append_labels(out, labels);
      out += ' ' + format_metric_value(s.sum) + '\n';
      out += f.name + "_count";
      append_labels(out, labels);
      out += fmt::format(" {}\n", s.count);
    }
  }
  return out;
}

}  // namespace ragd::server
