// ragd bench embed: embedding throughput of a BERT model through the EmbeddingService —
// sentences/s one at a time (batch 1), in calls of 64 (batch 64), with several callers
// each sending one sentence at a time (the service combines them into batches), and the
// speed of cache hits. Sentences are synthetic, deterministic and of typical retrieval
// lengths (8..40 words); speed does not depend on what they say.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/embed_options.h"
#include "app/report/bench_report.h"
#include "util/timing.h"

namespace ragd::app {
namespace {

struct BenchEmbedArgs {
  EmbedModelOptions model;
  size_t sentences = 256;
  size_t callers = 8;
  bool json = false;
  std::string report;  // directory for report.html + results.json; empty: none
};

std::vector<std::string> make_sentences(size_t n, uint64_t seed) {
  static constexpr const char* kWords[] = {
      "the", "model", "retrieval", "search", "index", "document", "answer", "question", "fast",
      "vector", "embedding", "server", "cache", "token", "user", "data", "query", "result",
      "a", "of", "and", "to", "in", "is", "for", "with", "on", "that", "by", "this",
      "network", "protein", "cell", "study", "patients", "treatment", "increased", "levels",
      "significant", "analysis", "method", "system", "performance", "memory", "latency"};
  constexpr size_t kN = sizeof(kWords) / sizeof(kWords[0]);
  uint64_t s = seed;
  auto next = [&s] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>(s >> 33);
  };
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    const size_t words = 8 + next() % 33;
    std::string text = fmt::format("{}", i);  // unique: no accidental cache hits
    for (size_t w = 0; w < words; ++w) text += std::string(" ") + kWords[next() % kN];
    out.push_back(text + ".");
  }
  return out;
}

struct Measure {
  std::string name;
  size_t sentences = 0;
  double seconds = 0;
  double per_s() const { return seconds > 0 ? sentences / seconds : 0; }
};

int run_bench_embed(const BenchEmbedArgs& a) {
  const std::string path = a.model.resolve();
  std::shared_ptr<const model::GgufFile> file = model::GgufFile::open(path);
  engine::EmbeddingServiceOptions opts = a.model.service;
  opts.cache_capacity = 0;  // compute measurements must not hit the cache
  engine::EmbeddingService service(file, opts);
  const auto texts = make_sentences(a.sentences, 42);
  size_t tokens = 0;
  for (const auto& t : texts) tokens += service.tokenize(t).size();
  service.embed(make_sentences(8, 7));  // warm-up: page in the weights, size the scratch

  std::vector<Measure> m;
  Stopwatch w;
  for (const auto& t : texts) service.embed(t);
  m.push_back({"batch 1", texts.size(), w.seconds()});

  w.reset();
  for (size_t i = 0; i < texts.size(); i += 64) {
    std::vector<std::string> chunk(texts.begin() + i, texts.begin() + std::min(texts.size(), i + 64));
    service.embed(chunk);
  }
  m.push_back({"batch 64", texts.size(), w.seconds()});

  w.reset();
  {
    std::vector<std::thread> threads;
    for (size_t c = 0; c < a.callers; ++c) {
      threads.emplace_back([&, c] {
        for (size_t i = c; i < texts.size(); i += a.callers) service.embed(texts[i]);
      });
    }
    for (auto& t : threads) t.join();
  }
  m.push_back({fmt::format("{} callers x batch 1", a.callers), texts.size(), w.seconds()});
  const auto stats = service.stats();

  engine::EmbeddingServiceOptions cached = a.model.service;
  cached.cache_capacity = std::max<size_t>(cached.cache_capacity, texts.size());
  engine::EmbeddingService with_cache(file, cached);
  with_cache.embed(texts);  // fill
  w.reset();
  size_t rounds = 0;
  while (w.seconds() < 0.5 || rounds == 0) {
    for (const auto& t : texts) with_cache.embed(t);
    ++rounds;
  }
  m.push_back({"cache hit", texts.size() * rounds, w.seconds()});

  const double avg_tokens = static_cast<double>(tokens) / texts.size();
  {
    nlohmann::json j = {{"model", path},
                        {"name", service.model_id()},
                        {"threads", opts.threads},
                        {"sentences", texts.size()},
                        {"avg_tokens", avg_tokens},
                        {"combined_batches", stats.batches}};
    for (const auto& x : m) {
      j["results"].push_back({{"mode", x.name}, {"sentences_per_s", x.per_s()},
                              {"tokens_per_s", x.name == "cache hit" ? 0.0 : x.per_s() * avg_tokens}});
    }
    if (!a.report.empty()) report::write_bench_report(a.report, {{"embed", j}});
    if (a.json) {
      fmt::print("{}\n", j.dump(2));
      return 0;
    }
  }
  fmt::print("model {} ({}), {} sentences of {:.1f} tokens on average\n", path,
             service.model_id(), texts.size(), avg_tokens);
  fmt::print("| mode | sentences/s | tokens/s | us/sentence |\n|---|---|---|---|\n");
  for (const auto& x : m) {
    fmt::print("| {} | {:.1f} | {} | {:.2f} |\n", x.name, x.per_s(),
               x.name == "cache hit" ? std::string("-") : fmt::format("{:.0f}", x.per_s() * avg_tokens),
               1e6 / x.per_s());
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto a = std::make_shared<BenchEmbedArgs>();
  auto* sub = bench_command(app)->add_subcommand(
      "embed", "Embedding speed: sentences/s at batch 1 and 64, concurrent callers, cache hits");
  a->model.add_to(*sub);
  sub->add_option("-n,--sentences", a->sentences, "Sentences per measurement")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  sub->add_option("--callers", a->callers, "Concurrent callers in the combined-batching run")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{256}));
  sub->add_flag("--json", a->json, "Print the results as JSON");
  sub->add_option("--report", a->report, "Also write DIR/report.html (charts) and DIR/results.json");
  return Command{sub, [a] { return run_bench_embed(*a); }};
});

}  // namespace
}  // namespace ragd::app
