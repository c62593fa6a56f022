#include "app/rag_options.h"

#include <cstdlib>
#include <filesystem>

#include "app/model_options.h"
#include "rag/search/reranker_factory.h"
#include "rag/store/open_store.h"
#include "util/error.h"

namespace ragd::app {

std::string default_data_dir() {
  const char* env = std::getenv("RAGD_DATA_DIR");
  return env && *env ? env : "data";
}

std::string default_store() {
  const char* env = std::getenv("RAGD_STORE");
  return env && *env ? env : "sqlite";
}

void add_store_options(CLI::App* sub, StoreLocation& where, bool with_collection) {
  where.db_dir = default_data_dir();
  where.store = default_store();
  sub->add_option("--db", where.db_dir, "Data directory holding the store ($RAGD_DATA_DIR or ./data)")
      ->capture_default_str();
  sub->add_option("--store", where.store,
                  "Document store: sqlite (in --db) or postgres://USER@HOST:PORT/DB, shared by every "
                  "replica; --db then only caches vector indexes ($RAGD_STORE or sqlite)")
      ->capture_default_str();
  if (with_collection) {
    sub->add_option("--collection", where.collection, "Collection name")->capture_default_str();
  }
}

std::unique_ptr<rag::Store> open_store(const StoreLocation& where, bool must_exist) {
  if (must_exist && !rag::store_exists(where.store, where.db_dir)) {
    fail("no ragd store in '{}': run 'ragd ingest PATH --db {}' first (or set --db / "
         "RAGD_DATA_DIR)",
         where.db_dir, where.db_dir);
  }
  return rag::open_store(where.store, where.db_dir);
}

void RerankChoice::add_to(CLI::App* sub) {
  sub->add_option("--rerank", spec, std::string("Rerank stage: ") + rag::kRerankerNames)->capture_default_str();
  sub->add_option("--rerank-depth", depth, "Candidates to rerank (default: the profile's)");
  sub->add_option("--rerank-weight", weight, "First-stage share of the reranked score, 0..1");
}

std::unique_ptr<rag::ScoringReranker> RerankChoice::make(rag::Embedder* embedder, size_t threads) const {
  if (spec == "none" && (depth || weight)) fail("--rerank-depth and --rerank-weight need a --rerank stage");
  rag::RerankerDeps deps;
  deps.embedder = embedder;
  deps.first_stage_weight = weight;
  deps.threads = threads;
  deps.resolve_model = [](const std::string& name) {
    if (std::filesystem::exists(name)) return name;
    for (const auto& candidate : {name, name + ".gguf"}) {
      auto path = std::filesystem::path(default_model_dir()) / candidate;
      if (std::filesystem::exists(path)) return path.string();
    }
    fail("reranker model '{}' is neither a file nor a model in {}", name, default_model_dir());
  };
  return rag::make_reranker(spec, deps);
}

}  // namespace ragd::app
