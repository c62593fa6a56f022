// Options shared by the retrieval commands (ingest, search, collections, eval): where the
// store lives and which collection to use.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>

#include "rag/search/embedder.h"
#include "rag/search/scoring_reranker.h"
#include "rag/store/store.h"

namespace ragd::app {

// The collection that ingest, search, ask, `ragd serve` (rag.collection) and `make run` use
// when none is named, so that what one of them stores the others find.
inline constexpr const char* kDefaultCollection = "default";

struct StoreLocation {
  std::string db_dir;  // filled with default_data_dir() by add_store_options
  // --store: "sqlite" (in db_dir) or a postgres:// URI (rag/store/open_store.h); filled
  // with default_store() by add_store_options.
  std::string store = "sqlite";
  std::string collection = kDefaultCollection;
};

// The one data directory shared by the CLI, `ragd serve` and `make run` (scripts/run-main
// reads it from `ragd collections --path`), per user as Ollama keeps its store:
// $RAGD_DATA_DIR if set and non-empty, else $XDG_DATA_HOME/ragd (only when absolute, as the
// XDG spec asks), else $HOME/.local/share/ragd, else ./.ragd when HOME is unset or empty.
std::string default_data_dir();

// How --db's default is chosen, for help texts.
inline constexpr const char* kDataDirHelp = "$RAGD_DATA_DIR, else $XDG_DATA_HOME/ragd or ~/.local/share/ragd";

// $RAGD_STORE if set and non-empty, else "sqlite".
std::string default_store();

// Adds --db, --store and (unless with_collection is false) --collection.
void add_store_options(CLI::App* sub, StoreLocation& where, bool with_collection = true);

// "no ragd store in 'DIR': ingest documents first ('ragd ingest PATH') ...", naming --db DIR
// in the command only when DIR is not the default one.
std::string missing_store_message(const StoreLocation& where);

// Opens the store. With must_exist, a directory without an SQLite database is a ragd::Error
// that says to ingest first (searching must not create empty stores as a side effect).
std::unique_ptr<rag::Store> open_store(const StoreLocation& where, bool must_exist);

// The rerank stage of search and eval beir: --rerank none|sentence|llm:MODEL,
// --rerank-depth N (candidates reranked; default: the profile's), --rerank-weight W (the
// first stage's share of the fused score; default: the reranker's measured one).
struct RerankChoice {
  std::string spec = "none";
  std::optional<size_t> depth;
  std::optional<double> weight;

  void add_to(CLI::App* sub);
  // nullptr for "none". `embedder` is needed by "sentence"; MODEL is a path or a file
  // name in the model directory ($RAGD_MODEL_DIR or ./models, ".gguf" optional).
  std::unique_ptr<rag::ScoringReranker> make(rag::Embedder* embedder, size_t threads) const;
};

}  // namespace ragd::app
