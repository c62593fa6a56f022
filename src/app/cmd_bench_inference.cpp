// ragd bench inference: prompt and generation speed of one or more model files, in the
// manner of llama-bench (pp = prompt tokens/s, tg = generation tokens/s).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/model_options.h"
#include "app/report/bench_report.h"
#include "engine/inference_bench.h"
#include "kernels/attention.h"

namespace ragd::app {
namespace {

struct BenchInferenceOptions {
  std::vector<std::string> models;
  size_t threads = 0;
  engine::InferenceBenchOptions bench;
  std::string kv_type = "f16";
  bool json = false;
  std::string report;  // directory for report.html + results.json; empty: none
};

nlohmann::json to_json(const engine::InferenceBenchResult& r, const engine::InferenceBenchOptions& o) {
  nlohmann::json j = {{"model", r.model},
                      {"type", r.type},
                      {"model_mib", r.model_mib},
                      {"threads", r.threads},
                      {"prompt_tokens", o.prompt_tokens},
                      {"gen_tokens", o.gen_tokens},
                      {"repetitions", o.repetitions},
                      {"prompt_tokens_per_s", r.pp_tokens_per_s},
                      {"prompt_tokens_per_s_stddev", r.pp_stddev},
                      {"gen_tokens_per_s", r.tg_tokens_per_s},
                      {"gen_tokens_per_s_stddev", r.tg_stddev},
                      {"ms_per_token_p50", r.ms_per_token_p50},
                      {"ms_per_token_p95", r.ms_per_token_p95},
                      {"ms_per_token_max", r.ms_per_token_max},
                      {"peak_rss_mib", r.peak_rss_mib}};
  for (const auto& b : r.batched) {
    j["batched"].push_back({{"sequences", b.sequences}, {"tokens_per_s", b.tokens_per_s}});
  }
  return j;
}

int run(BenchInferenceOptions& o) {
  o.bench.kv_type = kernels::kv_type_from_name(o.kv_type);
  if (o.models.empty()) {
    ModelOptions defaults;
    o.models.push_back(defaults.resolve());
  }
  nlohmann::json all = nlohmann::json::array();
  if (!o.json) {
    fmt::print("| model | type | MiB | threads | pp{} t/s | tg{} t/s | ms/tok p50 | p95 | max | peak RSS MiB |\n",
               o.bench.prompt_tokens, o.bench.gen_tokens);
    fmt::print("|---|---|---|---|---|---|---|---|---|---|\n");
  }
  for (const auto& path : o.models) {
    auto llm = engine::Llm::load(path, o.threads);
    auto r = engine::run_inference_bench(*llm, path, o.bench);
    all.push_back(to_json(r, o.bench));
    if (o.json) {
      // Progress on stderr, as the table rows show it on stdout without --json: the JSON
      // comes only at the end, and each model takes a while.
      fmt::print(stderr, "bench inference: {}: pp{} {:.1f} t/s, tg{} {:.1f} t/s\n", path, o.bench.prompt_tokens,
                 r.pp_tokens_per_s, o.bench.gen_tokens, r.tg_tokens_per_s);
      continue;
    }
    fmt::print("| {} | {} | {:.1f} | {} | {:.1f} ± {:.1f} | {:.1f} ± {:.1f} | {:.2f} | {:.2f} | {:.2f} | {:.0f} |\n",
               path, r.type, r.model_mib, r.threads, r.pp_tokens_per_s, r.pp_stddev,
               r.tg_tokens_per_s, r.tg_stddev, r.ms_per_token_p50, r.ms_per_token_p95,
               r.ms_per_token_max, r.peak_rss_mib);
    for (const auto& b : r.batched) {
      fmt::print("|   batched decode, {} sequences | | | | | {:.1f} aggregate | | | | |\n", b.sequences,
                 b.tokens_per_s);
    }
    std::fflush(stdout);
  }
  if (o.json) fmt::print("{}\n", all.dump(2));
  if (!o.report.empty()) report::write_bench_report(o.report, {{"inference", all}});
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<BenchInferenceOptions>();
  auto* sub = bench_command(app)->add_subcommand("inference", "Prompt/generation speed of model files (llama-bench style)");
  sub->add_option("-m,--model", o->models, "GGUF file(s); repeat or list several quantizations");
  sub->add_option("-t,--threads", o->threads, "Compute threads (0 = all cores)")->capture_default_str();
  sub->add_option("-p,--prompt-tokens", o->bench.prompt_tokens, "Prompt length (0 = skip)")->capture_default_str();
  sub->add_option("-n,--gen-tokens", o->bench.gen_tokens, "Generated tokens (0 = skip)")->capture_default_str();
  sub->add_option("-r,--repetitions", o->bench.repetitions, "Repetitions")->capture_default_str()->check(CLI::Range(1, 1000));
  sub->add_option("--batch", o->bench.batch_sizes, "Also decode this many sequences together (repeatable, e.g. --batch 16 --batch 32)");
  sub->add_option("--batch-gen-tokens", o->bench.batch_gen_tokens, "Decode steps per batched run")->capture_default_str();
  sub->add_option("--kv-type", o->kv_type, "KV cache elements: f16 (as the server) or f32")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  sub->add_flag("--json", o->json, "Print JSON");
  sub->add_option("--report", o->report, "Also write DIR/report.html (charts) and DIR/results.json");
  return Command{sub, [o] { return run(*o); }};
});

}  // namespace
}  // namespace ragd::app
