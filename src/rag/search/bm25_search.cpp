#include "rag/search/bm25_search.h"

#include <optional>

#include "rag/search/bm25_index_cache.h"
#include "rag/store/fts5_tokenizer.h"
#include "util/timing.h"

namespace ragd::rag {
namespace {

// The FTS5 token of each query term, in order; nullopt when a term becomes several tokens
// (FTS5 then matches them as an adjacent phrase, which the index does not model). A term
// that becomes no token is left out: FTS5 matches nothing with it and scores it 0.
std::optional<std::vector<std::string>> single_tokens(SqliteStore& store, const Collection& collection,
                                                      const std::vector<std::string>& terms) {
  Fts5TextTokenizer tok(store.db(), collection.fts_tokenizer);
  std::vector<std::string> out;
  for (const auto& term : terms) {
    size_t n = 0;
    tok.tokenize(term, Fts5TextTokenizer::Purpose::Query, [&](std::string_view t, bool) {
      if (n++ == 0) out.emplace_back(t);
    });
    if (n > 1) return std::nullopt;
  }
  return out;
}

}  // namespace

std::vector<ScoredChunk> bm25_search_fts5(Store& store, const Collection& collection,
                                          std::string_view query, size_t limit,
                                          const std::vector<MetadataFilter>& filters,
                                          const FtsQueryOptions& options) {
  std::vector<std::string> terms = fts_query_terms(query, options);
  if (terms.empty() || limit == 0) return {};
  return store.full_text_search(collection, terms, limit, filters);
}

std::vector<ScoredChunk> bm25_search(Store& store, const Collection& collection,
                                     std::string_view query, size_t limit,
                                     const std::vector<MetadataFilter>& filters,
                                     const FtsQueryOptions& options) {
  std::vector<std::string> terms = fts_query_terms(query, options);
  if (terms.empty() || limit == 0) return {};
  // The in-memory index reproduces FTS5's scores from FTS5's own tokenizer and totals, so
  // it can stand in for the SQLite backend only; other backends rank by themselves.
  auto* sqlite = dynamic_cast<SqliteStore*>(&store);
  if (!sqlite) return store.full_text_search(collection, terms, limit, filters);
  if (auto index = bm25_index_for_query(*sqlite, collection)) {
    if (auto tokens = single_tokens(*sqlite, collection, terms)) {
      if (filters.empty()) return index->search(*tokens, limit);
      auto ids = store.chunk_ids_matching(collection.id, filters);
      std::vector<bool> allowed = index->mask_of(ids);
      return index->search(*tokens, limit, &allowed);
    }
    return store.full_text_search(collection, terms, limit, filters);
  }
  Stopwatch watch;
  auto hits = store.full_text_search(collection, terms, limit, filters);
  note_fts_query(*sqlite, collection, watch.seconds());
  return hits;
}

}  // namespace ragd::rag
