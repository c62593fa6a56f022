#include "app/rag_options.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "app/model_options.h"
#include "rag/search/reranker_factory.h"
#include "rag/store/open_store.h"
#include "util/error.h"

namespace ragd::app {

std::string default_data_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("RAGD_DATA_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg && fs::path(xdg).is_absolute()) {
    return (fs::path(xdg) / "ragd").string();
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return (fs::path(home) / ".local" / "share" / "ragd").string();
  }
  return ".ragd";
}

std::string default_store() {
  const char* env = std::getenv("RAGD_STORE");
  return env && *env ? env : "sqlite";
}

void add_store_options(CLI::App* sub, StoreLocation& where, bool with_collection) {
  where.db_dir = default_data_dir();
  where.store = default_store();
  sub->add_option("--db", where.db_dir, fmt::format("Data directory holding the store ({})", kDataDirHelp))
      ->capture_default_str();
  sub->add_option("--store", where.store,
                  "Document store: sqlite (in --db) or postgres://USER@HOST:PORT/DB, shared by every "
                  "replica; --db then only caches vector indexes ($RAGD_STORE or sqlite)")
      ->capture_default_str();
  if (with_collection) {
    sub->add_option("--collection", where.collection, "Collection name")->capture_default_str();
  }
}

std::string missing_store_message(const StoreLocation& where) {
  // The default directory needs no --db in the hint: the ingest lands where this looked.
  const std::string db = where.db_dir == default_data_dir() ? "" : " --db " + where.db_dir;
  return fmt::format("no ragd store in '{}': ingest documents first ('ragd ingest PATH{}'), or point --db or "
                     "RAGD_DATA_DIR at a store",
                     where.db_dir, db);
}

std::unique_ptr<rag::Store> open_store(const StoreLocation& where, bool must_exist) {
  if (must_exist && !rag::store_exists(where.store, where.db_dir)) fail("{}", missing_store_message(where));
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
