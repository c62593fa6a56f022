#include "rag/bm25_search.h"

#include <fmt/format.h>

#include "rag/schema.h"

namespace ragd::rag {

std::vector<ScoredChunk> bm25_search(Store& store, const Collection& collection,
                                     std::string_view query, size_t limit,
                                     const std::vector<MetadataFilter>& filters,
                                     const FtsQueryOptions& options) {
  std::string match = build_fts_query(query, options);
  if (match.empty() || limit == 0) return {};
  std::string fts = fts_table_name(collection.id);
  std::string sql;
  if (filters.empty()) {
    // Rank inside FTS5 first and join only the survivors: the join then costs `limit`
    // lookups instead of one per matching row.
    sql = fmt::format(
        "SELECT r.id, c.document_id, r.score FROM (SELECT rowid AS id, bm25({0}) AS score"
        " FROM {0} WHERE {0} MATCH ?1 ORDER BY score LIMIT ?2) r"
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

}  // namespace ragd::rag
