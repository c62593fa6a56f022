// ragd bench throughput: concurrent streaming clients against a running `ragd serve` (or
// any OpenAI-compatible server), one level of concurrency after another; reports
// requests, errors, aggregate tokens/s, time to first token and inter-token latency.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/report/bench_report.h"
#include "server/load_generator.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct BenchThroughputOptions {
  server::LoadOptions load;
  std::vector<size_t> levels = {1, 5, 10, 20, 50, 100};
  bool json = false;
  std::string report;  // directory for report.html + results.json; empty: none
};

nlohmann::json percentiles_json(const server::Percentiles& p) {
  return {{"p50", p.p50}, {"p95", p.p95}, {"max", p.max}, {"count", p.count}};
}

nlohmann::json to_json(const server::LoadResult& r) {
  return {{"concurrency", r.concurrency},
          {"requests", r.requests},
          {"errors", r.errors},
          {"tokens", r.tokens},
          {"window_seconds", r.window_seconds},
          {"tokens_per_second", r.tokens_per_second},
          {"ttft_ms", percentiles_json(r.ttft_ms)},
          {"itl_ms", percentiles_json(r.itl_ms)},
          {"latency_ms", percentiles_json(r.latency_ms)},
          {"error_samples", r.error_samples}};
}

int run(BenchThroughputOptions& o) {
  if (o.levels.empty()) fail("--concurrency needs at least one level");
  for (size_t c : o.levels) {
    if (c == 0 || c > 10000) fail("--concurrency levels must be between 1 and 10000 (got {})", c);
  }
  nlohmann::json levels = nlohmann::json::array();
  if (!o.json) {
    fmt::print("server {} · {} s per level after {} s ramp-up · max_tokens {}{}{}\n", o.load.url,
               o.load.duration_seconds, o.load.ramp_up_seconds, o.load.max_tokens,
               o.load.temperature ? fmt::format(" · temperature {}", *o.load.temperature) : "",
               o.load.same_prompt ? " · same prompt" : "");
    fmt::print("| clients | requests | errors | tokens/s | TTFT p50 ms | TTFT p95 ms | ITL p50 ms | ITL p95 ms |\n");
    fmt::print("|---|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
  }
  for (size_t c : o.levels) {
    server::LoadOptions lo = o.load;
    lo.concurrency = c;
    const auto r = server::run_load(lo);
    levels.push_back(to_json(r));
    if (o.json) {
      // Progress on stderr, as the table rows show it on stdout without --json.
      fmt::print(stderr, "bench throughput: {} clients: {} requests, {} errors, {:.1f} tokens/s\n", c, r.requests,
                 r.errors, r.tokens_per_second);
      continue;
    }
    fmt::print("| {} | {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} |\n", c, r.requests,
               r.errors, r.tokens_per_second, r.ttft_ms.p50, r.ttft_ms.p95, r.itl_ms.p50,
               r.itl_ms.p95);
    for (const auto& e : r.error_samples) fmt::print("|   error: {} | | | | | | | |\n", e);
    std::fflush(stdout);
  }
  {
    nlohmann::json out = {{"url", o.load.url},
                          {"model", o.load.model},
                          {"duration_seconds", o.load.duration_seconds},
                          {"ramp_up_seconds", o.load.ramp_up_seconds},
                          {"max_tokens", o.load.max_tokens},
                          {"same_prompt", o.load.same_prompt},
                          {"levels", levels}};
    out["temperature"] = o.load.temperature ? nlohmann::json(*o.load.temperature) : nlohmann::json(nullptr);
    if (o.json) fmt::print("{}\n", out.dump(2));
    if (!o.report.empty()) report::write_bench_report(o.report, {{"throughput", out}});
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<BenchThroughputOptions>();
  auto* sub = bench_command(app)->add_subcommand(
      "throughput", "Concurrent streaming chat clients against a running server");
  sub->add_option("--url", o->load.url, "Server, http://HOST:PORT")->required();
  sub->add_option("-c,--concurrency", o->levels, "Concurrent clients per level, e.g. 1,5,10")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("-d,--duration", o->load.duration_seconds, "Measured seconds per level")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  sub->add_option("--ramp-up", o->load.ramp_up_seconds, "Seconds over which clients start (not measured)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  sub->add_option("-n,--max-tokens", o->load.max_tokens, "max_tokens of each request")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  sub->add_option("-m,--model", o->load.model, "Model name to request (default: the server's)");
  sub->add_option("--prompt", o->load.prompt, "User message")->capture_default_str();
  sub->add_option("--temperature", o->load.temperature,
                  "temperature of each request, 0 = greedy (default: not sent, the server's default)")
      ->check(CLI::Range(0.0, 2.0));
  sub->add_flag("--same-prompt", o->load.same_prompt, "Send the same prompt every time (default: vary it per request)");
  sub->add_option("--api-key", o->load.api_key, "Bearer token, if the server requires one");
  sub->add_option("--path", o->load.path, "Endpoint path")->capture_default_str();
  sub->add_flag("--json", o->json, "Print JSON");
  sub->add_option("--report", o->report, "Also write DIR/report.html (charts) and DIR/results.json");
  return Command{sub, [o] { return run(*o); }};
});

}  // namespace
}  // namespace ragd::app
