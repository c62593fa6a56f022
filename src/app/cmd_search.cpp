// ragd search QUERY: retrieves the best documents (or chunks) of a collection.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/embedder_setup.h"
#include "app/rag_options.h"
#include "rag/search/retriever.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct SearchCmdOptions {
  std::string query;
  StoreLocation where;
  std::string mode = "bm25";
  std::string profile = "default";
  std::string fusion = "weighted";
  size_t top_k = 10;
  std::optional<double> min_score;
  double bm25_weight = 0.3;
  std::vector<std::string> filters;
  EmbedderChoice embed;
  RerankChoice rerank;
  bool chunks = false;
  bool json = false;
};

constexpr auto kJsonReplace = nlohmann::json::error_handler_t::replace;

std::string snippet(const std::string& text, size_t max_bytes) {
  std::string s;
  for (char c : text) s += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;  // UTF-8 boundary
  return s.substr(0, cut) + "…";
}

nlohmann::json hit_json(const rag::SearchHit& h, size_t rank) {
  nlohmann::json j = {{"rank", rank},         {"score", h.score},       {"document", h.external_id},
                      {"title", h.title},     {"heading", h.heading},   {"chunk_id", h.chunk_id},
                      {"text", h.text}};
  j["metadata"] = nlohmann::json::parse(h.metadata, nullptr, false);
  j["bm25_score"] = h.bm25_score ? nlohmann::json(*h.bm25_score) : nlohmann::json();
  j["dense_score"] = h.dense_score ? nlohmann::json(*h.dense_score) : nlohmann::json();
  return j;
}

int run_search(const SearchCmdOptions& o) {
  rag::SearchOptions s;
  s.mode = rag::parse_search_mode(o.mode);
  s.profile = rag::search_profile(o.profile);
  s.fusion = rag::parse_fusion_method(o.fusion);
  s.top_k = o.top_k;
  s.min_score = o.min_score;
  if (o.bm25_weight < 0 || o.bm25_weight > 1) fail("--bm25-weight must be between 0 and 1");
  s.bm25_weight = o.bm25_weight;
  s.dense_weight = 1 - o.bm25_weight;
  s.level = o.chunks ? rag::ResultLevel::Chunks : rag::ResultLevel::Documents;
  for (const auto& f : o.filters) s.filters.push_back(rag::MetadataFilter::parse(f));
  auto store = open_store(o.where, /*must_exist=*/true);
  rag::Collection collection = store->require_collection(o.where.collection);
  std::unique_ptr<rag::ModelEmbedder> embedder;
  std::unique_ptr<rag::CollectionVectors> vectors;
  if (s.mode != rag::SearchMode::Bm25) {
    embedder = open_query_embedder(o.embed, collection);
    vectors = rag::CollectionVectors::open(*store, collection);
  }
  // The sentence reranker embeds the query and the candidates' sentences itself, so it
  // works on collections without vectors too.
  std::unique_ptr<rag::ModelEmbedder> rerank_embedder;
  if (o.rerank.spec == "sentence" && !embedder) rerank_embedder = open_passage_embedder(o.embed, false);
  auto reranker = o.rerank.make(embedder ? embedder.get() : rerank_embedder.get(), o.embed.service.threads);
  if (o.rerank.depth) s.profile.rerank_candidates = *o.rerank.depth;
  rag::Retriever retriever(*store, collection, embedder.get(), vectors.get(), reranker.get());
  rag::SearchTimings t;
  auto hits = retriever.search(o.query, s, &t);
  if (o.json) {
    nlohmann::json j = {{"query", o.query},           {"mode", o.mode},
                        {"collection", collection.name}, {"level", o.chunks ? "chunks" : "documents"},
                        {"results", nlohmann::json::array()}};
    for (size_t i = 0; i < hits.size(); ++i) j["results"].push_back(hit_json(hits[i], i + 1));
    j["timings_ms"] = {{"embed_query", t.embed_ms}, {"bm25", t.bm25_ms},     {"dense", t.dense_ms}, {"fusion", t.fusion_ms},
                       {"rerank", t.rerank_ms}, {"fetch", t.fetch_ms}, {"total", t.total_ms}};
    fmt::print("{}\n", j.dump(2, ' ', false, kJsonReplace));
    return 0;
  }
  if (hits.empty()) fmt::print("no results\n");
  for (size_t i = 0; i < hits.size(); ++i) {
    const auto& h = hits[i];
    fmt::print("{:>3}. [{:.4f}] {}{}{}\n", i + 1, h.score, h.title.empty() ? h.external_id : h.title,
               h.heading.empty() ? "" : " > ", h.heading);
    if (!h.title.empty()) fmt::print("     {}\n", h.external_id);
    fmt::print("     {}\n", snippet(h.text, 240));
  }
  fmt::print(stderr, "{} result{} in {:.1f} ms", hits.size(), hits.size() == 1 ? "" : "s",
             t.total_ms - t.embed_ms);
  if (embedder) fmt::print(stderr, " (+ {:.1f} ms embedding the query)", t.embed_ms);
  fmt::print(stderr, "\n");
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<SearchCmdOptions>();
  auto* sub = app.add_subcommand("search", "Search a collection (BM25, dense or hybrid)");
  sub->add_option("query", o->query, "What to search for")->required();
  add_store_options(sub, o->where);
  sub->add_option("--mode", o->mode, "bm25, dense or hybrid")->capture_default_str();
  sub->add_option("--top-k,-k", o->top_k, "Number of results")->capture_default_str();
  sub->add_option("--profile", o->profile, "fast, default or quality (candidate counts)")
      ->capture_default_str();
  sub->add_option("--fusion", o->fusion, "Hybrid fusion: weighted or rrf")->capture_default_str();
  sub->add_option("--bm25-weight", o->bm25_weight, "Hybrid weighted fusion: BM25 share (dense gets the rest)")
      ->capture_default_str();
  sub->add_option("--min-score", o->min_score, "Drop results scoring below this");
  sub->add_option("--filter", o->filters, "Metadata filter KEY=VALUE or KEY!=VALUE (repeatable)");
  o->embed.add_to(sub, /*with_no_embed=*/false);
  o->rerank.add_to(sub);
  sub->add_flag("--chunks", o->chunks, "Return individual chunks instead of one result per document");
  sub->add_flag("--json", o->json, "Print results as JSON");
  return Command{sub, [o] { return run_search(*o); }};
});

}  // namespace
}  // namespace ragd::app
