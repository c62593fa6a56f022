#include "rag/search/bm25_search.h"

#include <fmt/format.h>

#include <optional>

#include "rag/search/bm25_index_cache.h"
#include "rag/store/fts5_tokenizer.h"
#include "rag/store/schema.h"
#include "util/timing.h"

namespace ragd::rag {
namespace {

// The FTS5 token of each query term, in order; nullopt when a term becomes several tokens
// (FTS5 then matches them as an adjacent phrase, which the index does not model). A term
// that becomes no token is left out: FTS5 matches nothing with it and scores it 0.
std::optional<std::vector<std::string>> single_tokens(Store& store, const Collection& collection,
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
  std::string match = build_fts_query(query, options);
  if (match.empty() || limit == 0) return {};
  std::string fts = fts_table_name(collection.id);
  std::string sql;
  if (filters.empty()) {
    // Rank inside FTS5 first and join only the survivors: the join then costs `limit`
    // lookups instead of one per matching row. The inner ORDER BY breaks ties by rowid
    // too, so that equal scores at the cut are kept in chunk id order.
    sql = fmt::format(
        "SELECT r.id, c.document_id, r.score FROM (SELECT rowid AS id, bm25({0}) AS score"
        " FROM {0} WHERE {0} MATCH ?1 ORDER BY score, rowid LIMIT ?2) r"
        " JOIN chunks c ON c.id = r.id ORDER BY r.score, r.id",
        fts);
  } else {
    sql = fmt::format(
        "SELECT f.rowid, c.document_id, bm25({0}) AS score FROM {0} f"
        " JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id"
        " WHERE {0} MATCH ?1 AND {1} ORDER BY score, f.rowid LIMIT ?2",
        fts, filters_sql(filters, 3));
  }
  Stmt& stmt = store.cached(sql);
  stmt.bind(1, match).bind(2, static_cast<int64_t>(limit));
  bind_filters(stmt, filters, 3);
  std::vector<ScoredChunk> out;
  while (stmt.step()) out.push_back(ScoredChunk{stmt.int64(0), stmt.int64(1), -stmt.real(2)});
  return out;
}

std::vector<ScoredChunk> bm25_search(Store& store, const Collection& collection,
                                     std::string_view query, size_t limit,
                                     const std::vector<MetadataFilter>& filters,
                                     const FtsQueryOptions& options) {
  std::vector<std::string> terms = fts_query_terms(query, options);
  if (terms.empty() || limit == 0) return {};
  if (auto index = bm25_index_for_query(store, collection)) {
    if (auto tokens = single_tokens(store, collection, terms)) {
      if (filters.empty()) return index->search(*tokens, limit);
      auto ids = store.chunk_ids_where(collection.id, filters_sql(filters, 2),
                                       [&](Stmt& s, int first) { bind_filters(s, filters, first); });
      std::vector<bool> allowed = index->mask_of(ids);
      return index->search(*tokens, limit, &allowed);
    }
    return bm25_search_fts5(store, collection, query, limit, filters, options);
  }
  Stopwatch watch;
  auto hits = bm25_search_fts5(store, collection, query, limit, filters, options);
  note_fts_query(store, collection, watch.seconds());
  return hits;
}

}  // namespace ragd::rag
