// Lexical retrieval through the store's full-text search (Store::full_text_search).
//
// SQLite: BM25 over the collection's FTS5 index (k1 = 1.2, b = 0.75, FTS5's built-in
// bm25() with the title, heading and text columns weighted equally). Two paths give the
// same scores: FTS5's bm25(), which scores every row matching any query term, and the
// in-memory index (bm25_index.h), which prunes with MaxScore. bm25_search() picks the
// index when it is current or worth building (bm25_index_cache.h), else FTS5.
// PostgreSQL: the backend's tsvector ranking (postgres_store.h), always.
// bm25_search_fts5() always asks the store's own ranking (for SQLite: FTS5).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "rag/search/fts_query.h"
#include "rag/search/scored_chunk.h"
#include "rag/store/store.h"

namespace ragd::rag {

// Best-first chunks matching any query term, at most `limit`. Scores are the backend's
// (SQLite: BM25, FTS5's bm25() negated, so higher is better); equal scores are ordered by
// chunk id. A query with no searchable terms returns nothing.
std::vector<ScoredChunk> bm25_search(Store& store, const Collection& collection,
                                     std::string_view query, size_t limit,
                                     const std::vector<MetadataFilter>& filters = {},
                                     const FtsQueryOptions& options = {});

// The same through the store alone (for SQLite: FTS5, the reference the index is tested
// against).
std::vector<ScoredChunk> bm25_search_fts5(Store& store, const Collection& collection,
                                          std::string_view query, size_t limit,
                                          const std::vector<MetadataFilter>& filters = {},
                                          const FtsQueryOptions& options = {});

}  // namespace ragd::rag
