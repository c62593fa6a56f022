// ragd bench retrieval: retrieval quality (hit@1, hit@4, MRR@10) and latency against
// document count, on a QA folder with gold paragraphs (rag/eval/qa_eval.h: corpus.jsonl,
// answers.jsonl, qrels/test.tsv), in bm25, dense and hybrid modes.
//
// One temporary store grows in steps: every step ingests the next slice of the corpus
// through the normal ingest path as a file of its own, embeds the new chunks, and then asks
// the same questions through the normal Retriever. So each document is embedded once, and
// every size is a superset of the one before. Invariant: the first step holds the gold
// paragraph of every question asked (a size below that is raised to it), so a question is
// always answerable and quality only drops because distractors were added; the other
// documents follow in corpus file order.
//
// Latency is the search alone, without the query's embedding (the embedder's LRU cache
// would answer repeated questions anyway); the embedding is reported apart.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/embed_options.h"
#include "app/embedder_setup.h"
#include "app/report/bench_report.h"
#include "rag/eval/beir.h"
#include "rag/eval/eval_metrics.h"
#include "rag/eval/qa_eval.h"
#include "rag/ingest/embed_chunks.h"
#include "rag/ingest/ingest.h"
#include "rag/ingest/temp_dir.h"
#include "rag/search/bm25_index_cache.h"
#include "rag/search/retriever.h"
#include "util/error.h"
#include "util/timing.h"

namespace ragd::app {
namespace {

namespace fs = std::filesystem;

inline constexpr const char* kDefaultQaData = "../shared/data/qa/squad-dev10";
inline constexpr size_t kWarmupQueries = 3;
inline constexpr size_t kTopK = 10;  // MRR@10; hit@1 and hit@4 read the same list

struct BenchRetrievalOptions {
  std::string data = kDefaultQaData;
  size_t questions = 100;
  std::vector<double> sizes = {25, 50, 100};  // percent of the (capped) corpus
  size_t max_documents = 0;                   // 0: the whole corpus
  std::vector<std::string> modes = {"bm25", "dense", "hybrid"};
  EmbedderChoice embed;
  bool json = false;
  std::string report;
};

struct Corpus {
  std::vector<nlohmann::json> documents;  // the slice measured, gold paragraphs first
  size_t gold = 0;                        // how many of `documents` are gold paragraphs
  size_t file_documents = 0;              // in corpus.jsonl
};

// Questions spread evenly over answers.jsonl (its order clusters by article), only those
// with a gold paragraph.
std::vector<rag::QaExample> pick_questions(const rag::QaData& data, size_t n) {
  std::vector<const rag::QaExample*> judged;
  for (const auto& e : data.examples) {
    if (!e.gold_documents.empty()) judged.push_back(&e);
  }
  if (judged.empty()) fail("bench retrieval: no question has a gold paragraph (qrels/test.tsv is needed)");
  n = std::min(n, judged.size());
  std::vector<rag::QaExample> picked;
  for (size_t i = 0; i < n; ++i) picked.push_back(*judged[i * judged.size() / n]);
  return picked;
}

// The gold paragraphs of `questions`, then the other documents in file order, up to
// max_documents (never below the gold ones).
Corpus load_corpus(const fs::path& file, const std::vector<rag::QaExample>& questions, size_t max_documents) {
  std::set<std::string> gold_ids;
  for (const auto& q : questions) gold_ids.insert(q.gold_documents.begin(), q.gold_documents.end());
  Corpus c;
  std::vector<nlohmann::json> others;
  rag::for_each_jsonl_record(file, "QA corpus", [&](const nlohmann::json& j, size_t) {
    ++c.file_documents;
    const std::string id = j["_id"].is_string() ? j["_id"].get<std::string>() : j["_id"].dump();
    (gold_ids.count(id) ? c.documents : others).push_back(j);
  });
  c.gold = c.documents.size();
  if (c.gold < gold_ids.size()) {
    fail("bench retrieval: {} gold paragraphs named in qrels are missing from {}", gold_ids.size() - c.gold,
         file.string());
  }
  const size_t cap = max_documents ? std::max(max_documents, c.gold) : c.gold + others.size();
  for (size_t i = 0; i < others.size() && c.documents.size() < cap; ++i) c.documents.push_back(std::move(others[i]));
  return c;
}

// Document counts for the size percentages: ascending, distinct, at least the gold count.
std::vector<size_t> step_sizes(const std::vector<double>& percents, const Corpus& c) {
  std::set<size_t> sizes;
  for (double p : percents) {
    if (!(p > 0 && p <= 100)) fail("--sizes: {} is not a percentage in (0, 100]", p);
    const auto n = static_cast<size_t>(std::llround(p / 100.0 * static_cast<double>(c.documents.size())));
    sizes.insert(std::clamp(n, c.gold, c.documents.size()));
  }
  return {sizes.begin(), sizes.end()};
}

struct ModeResult {
  double hit1 = 0, hit4 = 0, mrr10 = 0;
  double latency_p50 = 0, latency_p95 = 0, embed_p50 = 0;
};

ModeResult ask(rag::Retriever& retriever, rag::SearchMode mode, const std::vector<rag::QaExample>& questions) {
  rag::SearchOptions search;
  search.mode = mode;
  search.top_k = kTopK;
  search.level = rag::ResultLevel::Documents;  // the gold is a paragraph, i.e. a document
  for (size_t i = 0; i < std::min(kWarmupQueries, questions.size()); ++i) {
    retriever.search(questions[i].question, search);
  }
  ModeResult r;
  std::vector<double> latency, embed;
  for (const auto& q : questions) {
    Stopwatch watch;
    rag::SearchTimings t;
    const auto hits = retriever.search(q.question, search, &t);
    latency.push_back(watch.millis() - t.embed_ms);
    embed.push_back(t.embed_ms);
    for (size_t rank = 0; rank < hits.size(); ++rank) {
      const auto& g = q.gold_documents;
      if (std::find(g.begin(), g.end(), hits[rank].external_id) == g.end()) continue;
      r.hit1 += rank < 1;
      r.hit4 += rank < 4;
      r.mrr10 += 1.0 / static_cast<double>(rank + 1);
      break;
    }
  }
  const auto n = static_cast<double>(questions.size());
  r.hit1 /= n;
  r.hit4 /= n;
  r.mrr10 /= n;
  r.latency_p50 = rag::percentile(latency, 50);
  r.latency_p95 = rag::percentile(latency, 95);
  r.embed_p50 = rag::percentile(embed, 50);
  return r;
}

// Writes documents [from, to) as one JSONL file for the ingestor.
fs::path write_slice(const fs::path& dir, const Corpus& c, size_t from, size_t to) {
  const fs::path file = dir / fmt::format("docs-{:06}-{:06}.jsonl", from, to);
  std::ofstream out(file, std::ios::binary);
  for (size_t i = from; i < to; ++i) out << c.documents[i].dump() << '\n';
  out.close();
  if (!out) fail("bench retrieval: cannot write {}", file.string());
  return file;
}

struct Step {
  rag::Collection collection;
  std::unique_ptr<rag::CollectionVectors> vectors;  // null without an embedder
  size_t chunks = 0;                                // in the store after this step
  nlohmann::json stats;
};

// Ingests `file` into the growing store and embeds its new chunks (when `embedder` is given).
Step add_slice(rag::SqliteStore& store, const rag::IngestOptions& ingest, rag::Embedder* embedder, const fs::path& file) {
  rag::Ingestor ingestor(store, ingest);
  const rag::IngestStats s = ingestor.ingest({file});
  if (s.errors) fail("bench retrieval: {} records could not be ingested", s.errors);
  Step step;
  step.collection = store.require_collection(ingest.collection);
  rag::EmbedStats es;
  if (embedder) {
    es = rag::embed_missing_chunks(store, step.collection, *embedder);
    step.vectors = rag::CollectionVectors::open(store, step.collection);
  }
  rag::warm_bm25_index(store, step.collection);  // its build is not a query's latency
  const auto stats = store.stats(step.collection.id);
  step.chunks = static_cast<size_t>(stats.chunks);
  const auto documents = static_cast<size_t>(stats.documents);
  fmt::print(stderr, "bench retrieval: {} documents, {} chunks (ingest {:.1f} s, embed {:.1f} s)\n", documents,
             step.chunks, s.seconds, es.seconds);
  step.stats = {{"documents", documents}, {"chunks", step.chunks}, {"ingest_seconds", s.seconds},
                {"embed_seconds", es.seconds}, {"chunks_embedded", es.chunks}};
  return step;
}

int run_bench_retrieval(const BenchRetrievalOptions& o) {
  if (o.questions == 0) fail("--questions must be at least 1");
  if (o.sizes.empty()) fail("--sizes needs at least one percentage");
  std::vector<rag::SearchMode> modes;
  for (const auto& m : o.modes) modes.push_back(rag::parse_search_mode(m));
  if (!fs::is_directory(o.data)) {
    fail("--data: {} is not a folder (a QA folder with corpus.jsonl, answers.jsonl and qrels/test.tsv; "
         "see docs/benchmarks.md)", o.data);
  }
  const rag::QaData data = rag::load_qa(o.data);
  const auto questions = pick_questions(data, o.questions);
  const Corpus corpus = load_corpus(data.corpus, questions, o.max_documents);
  const auto sizes = step_sizes(o.sizes, corpus);
  auto embedder = open_passage_embedder(o.embed, /*quiet=*/true);
  const bool dense = std::any_of(modes.begin(), modes.end(), [](auto m) { return m != rag::SearchMode::Bm25; });
  if (dense && !embedder) {
    fail("bench retrieval: dense and hybrid need an embedding model: pass --embed-model FILE or install "
         "the default {} (run 'make'), or use --modes bm25", kDefaultEmbedder);
  }
  rag::IngestOptions ingest;
  ingest.collection = "bench";
  if (embedder) use_model_tokenizer(ingest.chunker, *embedder);  // as `ragd ingest` chunks

  rag::TempDir tmp("ragd-bench-retrieval");
  auto store = rag::SqliteStore::open(tmp.path() / "db");
  nlohmann::json rows = nlohmann::json::array(), steps = nlohmann::json::array();
  if (!o.json) {
    fmt::print("{:>9} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9}\n", "documents", "chunks", "mode", "hit@1",
               "hit@4", "MRR@10", "p50 ms", "p95 ms");
  }
  size_t done = 0;
  for (size_t size : sizes) {
    const fs::path slice = write_slice(tmp.path(), corpus, done, size);
    Step step = add_slice(*store, ingest, dense ? embedder.get() : nullptr, slice);
    done = size;
    const size_t chunks = step.chunks;
    steps.push_back(step.stats);
    rag::Retriever retriever(*store, step.collection, embedder.get(), step.vectors.get());
    for (auto mode : modes) {
      const ModeResult r = ask(retriever, mode, questions);
      rows.push_back({{"documents", size}, {"chunks", chunks}, {"mode", rag::search_mode_name(mode)},
                      {"questions", questions.size()}, {"hit_at_1", r.hit1}, {"hit_at_4", r.hit4},
                      {"mrr_at_10", r.mrr10}, {"latency_ms_p50", r.latency_p50},
                      {"latency_ms_p95", r.latency_p95}, {"query_embed_ms_p50", r.embed_p50}});
      if (!o.json) {
        fmt::print("{:>9} {:>7} {:>7} {:>7.3f} {:>7.3f} {:>7.3f} {:>9.3f} {:>9.3f}\n", size, chunks,
                   rag::search_mode_name(mode), r.hit1, r.hit4, r.mrr10, r.latency_p50, r.latency_p95);
        std::fflush(stdout);
      }
    }
  }
  rag::forget_bm25_indexes(*store);
  const nlohmann::json out = {{"benchmark", "retrieval"},
                              {"dataset", o.data},
                              {"embedding_model", embedder ? embedder->name() : ""},
                              {"questions", questions.size()},
                              {"gold_documents", corpus.gold},
                              {"corpus_documents", corpus.file_documents},
                              {"top_k", kTopK},
                              {"steps", steps},
                              {"results", rows}};
  if (o.json) fmt::print("{}\n", out.dump(2));
  if (!o.report.empty()) report::write_bench_report(o.report, {{"retrieval", out}});
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<BenchRetrievalOptions>();
  auto* sub = bench_command(app)->add_subcommand(
      "retrieval", "Retrieval quality (hit@k, MRR) and latency against document count on a QA set");
  sub->add_option("--data", o->data, "QA folder: corpus.jsonl, answers.jsonl, qrels/test.tsv")
      ->capture_default_str();
  sub->add_option("--questions", o->questions, "Questions asked at every size, spread over the set")
      ->capture_default_str();
  sub->add_option("--sizes", o->sizes, "Corpus sizes in percent, comma-separated (the gold paragraphs "
                                       "of the questions are always in)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--max-documents", o->max_documents, "Use at most this many documents (0 = all)")
      ->capture_default_str();
  sub->add_option("--modes", o->modes, "Search modes: bm25, dense, hybrid")->delimiter(',')->capture_default_str();
  o->embed.add_to(sub, /*with_no_embed=*/false);
  sub->add_flag("--json", o->json, "Print results as JSON");
  sub->add_option("--report", o->report, "Also write DIR/report.html (charts) and DIR/results.json");
  return Command{sub, [o] { return run_bench_retrieval(*o); }};
});

}  // namespace
}  // namespace ragd::app
