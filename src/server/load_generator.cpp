#include "server/load_generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "server/sse_client.h"

namespace ragd::server {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// What all clients of one level collect (under `mu`).
struct Collector {
  Clock::time_point window_start, window_end;
  std::mutex mu;
  uint64_t requests = 0, errors = 0;
  double window_tokens = 0;
  std::vector<double> ttft_ms, itl_ms, latency_ms;
  std::vector<std::string> error_samples;

  // Every finished request's tokens count towards throughput by the share of its
  // generation time [first token, finish] that lies inside the window (tokens are assumed
  // evenly spread over it). Requests that started before the window (ramp-up) or end after
  // it thus count exactly for the work done inside it, so a level with long requests is
  // not undercounted at the window's edges. Latencies and errors are recorded for the
  // requests that started inside the window.
  void record(const StreamResult& r, Clock::time_point sent, Clock::time_point finished) {
    std::lock_guard lock(mu);
    const bool in_window = sent >= window_start && sent < window_end;
    if (r.ok && r.tokens() > 0) {
      const auto first = sent + seconds(std::max(0.0, r.ttft_seconds));
      const double span = std::chrono::duration<double>(finished - first).count();
      const auto lo = std::max(first, window_start), hi = std::min(finished, window_end);
      if (span <= 0) {
        if (first >= window_start && first < window_end) window_tokens += static_cast<double>(r.tokens());
      } else if (hi > lo) {
        window_tokens += static_cast<double>(r.tokens()) * std::chrono::duration<double>(hi - lo).count() / span;
      }
    }
    if (!in_window) return;
    ++requests;
    if (!r.ok) {
      ++errors;
      if (error_samples.size() < 5 &&
          std::find(error_samples.begin(), error_samples.end(), r.error) == error_samples.end()) {
        error_samples.push_back(r.error);
      }
      return;
    }
    if (r.ttft_seconds >= 0) ttft_ms.push_back(r.ttft_seconds * 1e3);
    for (double s : r.itl_seconds) itl_ms.push_back(s * 1e3);
    latency_ms.push_back(r.total_seconds * 1e3);
  }
};

}  // namespace

Percentiles percentiles(std::vector<double> values) {
  Percentiles p;
  p.count = values.size();
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  auto rank = [&](double q) {
    const size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<size_t>(i, 1, values.size()) - 1];
  };
  p.p50 = rank(0.50);
  p.p95 = rank(0.95);
  p.max = values.back();
  return p;
}

LoadResult run_load(const LoadOptions& o) {
  const size_t n = std::max<size_t>(1, o.concurrency);
  // Clients are created up front so a bad URL fails here, before any thread starts.
  std::vector<std::unique_ptr<SseChatClient>> clients;
  for (size_t i = 0; i < n; ++i) clients.push_back(std::make_unique<SseChatClient>(o.url));

  std::mutex counter_mu;
  uint64_t counter = 0;
  const auto start = Clock::now();
  const auto window_start = start + seconds(o.ramp_up_seconds);
  const auto window_end = window_start + seconds(o.duration_seconds);
  Collector collector;
  collector.window_start = window_start;
  collector.window_end = window_end;

  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      std::this_thread::sleep_until(start + seconds(o.ramp_up_seconds * static_cast<double>(i) /
                                                    static_cast<double>(n)));
      while (Clock::now() < window_end) {
        std::string prompt = o.prompt;
        if (!o.same_prompt) {
          std::lock_guard lock(counter_mu);
          prompt += " (request " + std::to_string(++counter) + ")";
        }
        const auto sent = Clock::now();
        nlohmann::json body = chat_request(o.model, prompt, o.max_tokens);
        if (o.temperature) body["temperature"] = *o.temperature;
        StreamResult r = clients[i]->stream(o.path, body, o.api_key);
        collector.record(r, sent, Clock::now());
        // A refused connection returns at once: do not spin on a dead server.
        if (!r.ok && r.status == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  for (auto& t : threads) t.join();

  LoadResult res;
  res.concurrency = n;
  res.requests = collector.requests;
  res.errors = collector.errors;
  res.tokens = static_cast<uint64_t>(std::llround(collector.window_tokens));
  res.window_seconds = o.duration_seconds;
  res.tokens_per_second = collector.window_tokens / o.duration_seconds;
  res.ttft_ms = percentiles(std::move(collector.ttft_ms));
  res.itl_ms = percentiles(std::move(collector.itl_ms));
  res.latency_ms = percentiles(std::move(collector.latency_ms));
  res.error_samples = std::move(collector.error_samples);
  return res;
}

}  // namespace ragd::server
