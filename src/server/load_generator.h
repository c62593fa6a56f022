// Load generator: N clients streaming chat completions against a server for a while, and
// what they saw (`ragd bench throughput`).
//
// Timeline of one level: client i starts at i × ramp_up / N (so the load builds up
// evenly), every client sends requests back to back (one at a time, like a user waiting for
// each answer); no request starts after the measurement window [ramp_up, ramp_up +
// duration), those in flight are awaited. Latencies (TTFT, inter-token, total) and errors
// are recorded for the requests that start inside the window. Throughput counts the tokens
// generated inside the window: each request's tokens are spread evenly over its
// [first token, finish] interval and the share inside the window counts, so requests
// straddling the window's edges (long generations at high concurrency) count exactly for
// the work done inside it.
//
// Prompts differ per request ("... (request 17)") unless same_prompt is set, so a server's
// answer or prefix caches do not flatter the result.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ragd::server {

struct LoadOptions {
  std::string url;               // http://host:port
  std::string path = "/v1/chat/completions";
  std::string model;             // "" lets the server pick its default
  std::string api_key;
  std::string prompt = "Write a short story about a robot who learns to paint.";
  bool same_prompt = false;
  size_t max_tokens = 64;
  std::optional<double> temperature;  // unset: the server's default
  size_t concurrency = 1;
  double duration_seconds = 30;
  double ramp_up_seconds = 5;
};

struct Percentiles {
  double p50 = 0, p95 = 0, max = 0;
  size_t count = 0;
};
// Nearest-rank percentiles of `values` (sorted here); all zero when empty.
Percentiles percentiles(std::vector<double> values);

struct LoadResult {
  size_t concurrency = 0;
  uint64_t requests = 0;   // recorded requests (ok + errors)
  uint64_t errors = 0;
  uint64_t tokens = 0;     // generated inside the window (see above), rounded
  double window_seconds = 0;
  double tokens_per_second = 0;
  Percentiles ttft_ms, itl_ms, latency_ms;
  std::vector<std::string> error_samples;  // the first few distinct error messages
};

// Runs one level. Throws ragd::Error for a bad URL; request failures are counted, not thrown.
LoadResult run_load(const LoadOptions& options);

}  // namespace ragd::server
