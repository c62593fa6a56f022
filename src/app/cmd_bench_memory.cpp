// ragd bench memory: what serving costs in resident memory, step by step.
//
// Lazy (the server's default): RSS at startup, after creating a ModelRegistry with the
// default LLM and embedder registered (nothing loaded: should stay near the startup
// figure), after acquiring (loading) the LLM, then the embedder, and after one short
// generation and one embedding. Eager: the same models loaded by warm_up() at start, as
// `ragd serve --warmup` does. Each variant runs in a fresh child process (this binary,
// re-executed), because memory an unloaded model freed is not reliably returned to the
// system and would blur the second variant.
//
// Figures come from /proc/self/status: VmRSS (resident now) and VmHWM (peak resident).
// Mapped weights count once touched, so "after load" shows the pages the load read and
// "after generation" the rest a forward pass touches.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/embed_options.h"
#include "app/model_options.h"
#include "app/report/bench_report.h"
#include "engine/model_registry.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct BenchMemoryOptions {
  std::string llm, embedder;  // empty: the defaults
  size_t threads = 0;
  size_t gen_tokens = 16;
  size_t kv_mib = 256;
  std::string variant = "both";  // lazy | eager | both
  bool json = false;
  std::string report;  // directory for report.html + results.json; empty: none
};

struct Rss {
  double rss_mib = 0, hwm_mib = 0;
};

Rss read_rss() {
  std::ifstream f("/proc/self/status");
  Rss r;
  std::string key;
  while (f >> key) {
    double kib = 0;
    if (key == "VmRSS:" && f >> kib) r.rss_mib = kib / 1024.0;
    else if (key == "VmHWM:" && f >> kib) r.hwm_mib = kib / 1024.0;
    f.ignore(1 << 20, '\n');
  }
  return r;
}

nlohmann::json run_variant(const BenchMemoryOptions& o, bool eager) {
  nlohmann::json steps = nlohmann::json::array();
  auto step = [&](const std::string& name) {
    const Rss r = read_rss();
    steps.push_back({{"step", name}, {"rss_mib", r.rss_mib}, {"peak_mib", r.hwm_mib}});
  };
  step("startup");

  ModelOptions mo;
  mo.model = o.llm;
  EmbedModelOptions eo;
  eo.model = o.embedder;
  engine::RegistryOptions ro;
  ro.threads = o.threads;
  ro.scheduler.max_kv_cache_bytes = o.kv_mib << 20;
  engine::ModelRegistry registry(ro);
  registry.add({.name = "llm", .path = mo.resolve(), .kind = engine::ModelKind::Llm});
  registry.add({.name = "embedder", .path = eo.resolve(), .kind = engine::ModelKind::Embedder});
  if (eager) {
    registry.warm_up({"llm", "embedder"});
    step("registry created, models warmed up");
  } else {
    step("registry created (lazy, nothing loaded)");
  }

  auto llm = registry.acquire("llm", engine::ModelKind::Llm);
  if (!eager) step("LLM acquired (loaded)");
  auto embedder = registry.acquire("embedder", engine::ModelKind::Embedder);
  if (!eager) step("embedder acquired (loaded)");

  engine::GenerationRequest req;
  req.prompt = llm->llm->tokenizer->encode("Once upon a time, there was a little robot who",
                                           /*add_special=*/true, /*parse_special=*/false);
  req.options.max_tokens = o.gen_tokens;
  req.options.ignore_eos = true;
  req.options.sampling.temperature = 0;
  auto admission = llm->scheduler->submit(std::move(req));
  if (admission.status != engine::AdmitStatus::Accepted) {
    fail("the scheduler refused the benchmark request: {}", admission.message);
  }
  admission.stream->wait_all();
  const auto summary = admission.stream->summary();
  if (!summary.error.empty()) fail("generation failed: {}", summary.error);
  embedder->embedder->embed(std::string_view("a short query to embed"));
  step(fmt::format("after one generation ({} tokens) and one embedding", summary.completion_tokens));

  nlohmann::json models = nlohmann::json::array();
  for (const auto& s : registry.status()) {
    models.push_back({{"name", s.spec.name},
                      {"kind", engine::model_kind_name(s.spec.kind)},
                      {"quantization", s.quantization},
                      {"file", s.spec.path},
                      {"estimated_mib", static_cast<double>(s.memory_bytes) / (1 << 20)},
                      {"load_seconds", s.load_seconds}});
  }
  return {{"variant", eager ? "eager" : "lazy"}, {"steps", steps}, {"models", models}};
}

// Runs one variant in a child process and returns its JSON.
nlohmann::json run_child(const BenchMemoryOptions& o, const std::string& variant) {
  std::string cmd = fmt::format("'/proc/{}/exe' bench memory --variant {} --json --threads {} "
                                "--gen-tokens {} --kv-mib {}",
                                getpid(), variant, o.threads, o.gen_tokens, o.kv_mib);
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  if (!o.llm.empty()) cmd += " --model " + quote(o.llm);
  if (!o.embedder.empty()) cmd += " --embed-model " + quote(o.embedder);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) fail("cannot start {}", cmd);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  if (status != 0) fail("bench memory --variant {} failed (status {})", variant, status);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) fail("bench memory --variant {}: bad output", variant);
  return j.front();
}

void print_variant(const nlohmann::json& v) {
  fmt::print("\n{} loading\n| step | RSS MiB | peak MiB |\n|---|---|---|\n", v["variant"].get<std::string>());
  for (const auto& s : v["steps"]) {
    fmt::print("| {} | {:.1f} | {:.1f} |\n", s["step"].get<std::string>(), s["rss_mib"].get<double>(),
               s["peak_mib"].get<double>());
  }
  for (const auto& m : v["models"]) {
    fmt::print("  {} ({}, {}): estimate {:.1f} MiB, loaded in {:.2f} s\n", m["name"].get<std::string>(),
               m["kind"].get<std::string>(), m["quantization"].get<std::string>(),
               m["estimated_mib"].get<double>(), m["load_seconds"].get<double>());
  }
}

int run(const BenchMemoryOptions& o) {
  nlohmann::json variants = nlohmann::json::array();
  if (o.variant == "both") {
    variants.push_back(run_child(o, "lazy"));
    variants.push_back(run_child(o, "eager"));
  } else {
    variants.push_back(run_variant(o, o.variant == "eager"));
  }
  if (o.json) {
    fmt::print("{}\n", variants.dump(2));
  } else {
    for (const auto& v : variants) print_variant(v);
  }
  if (!o.report.empty()) report::write_bench_report(o.report, {{"memory", variants}});
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<BenchMemoryOptions>();
  auto* sub = bench_command(app)->add_subcommand("memory", "Resident memory of lazy vs eager model loading");
  sub->add_option("-m,--model", o->llm, "LLM GGUF file (default: the default model)");
  sub->add_option("--embed-model", o->embedder, "Embedder GGUF file (default: the default embedder)");
  sub->add_option("-t,--threads", o->threads, "Compute threads (0 = all cores)")->capture_default_str();
  sub->add_option("-n,--gen-tokens", o->gen_tokens, "Tokens of the one generation")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  sub->add_option("--kv-mib", o->kv_mib, "KV pool of the LLM's scheduler, MiB")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  sub->add_option("--variant", o->variant, "lazy, eager or both (each in its own process)")
      ->capture_default_str()
      ->check(CLI::IsMember({"lazy", "eager", "both"}));
  sub->add_flag("--json", o->json, "Print JSON");
  sub->add_option("--report", o->report, "Also write DIR/report.html (charts) and DIR/results.json");
  return Command{sub, [o] { return run(*o); }};
});

}  // namespace
}  // namespace ragd::app
