// Lexical retrieval: BM25 over a collection's FTS5 index (k1 = 1.2, b = 0.75, FTS5's
// built-in bm25() with the title, heading and text columns weighted equally).
//
// Two paths give the same scores: FTS5's bm25(), which scores every row matching any
// query term, and the in-memory index (bm25_index.h), which prunes with MaxScore.
// bm25_search() picks the index when it is current or worth building
// (bm25_index_cache.h), else FTS5; bm25_search_fts5() always asks FTS5.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "rag/search/fts_query.h"
#include "rag/search/metadata_filter.h"
#include "rag/search/scored_chunk.h"
#include "rag/store/store.h"

namespace ragd::rag {

// Best-first chunks matching any query term, at most `limit`. Scores are BM25 (FTS5's
// bm25() negated, so higher is better); equal scores are ordered by chunk id. A query with
// no searchable terms returns nothing.
std::vector<ScoredChunk> bm25_search(Store& store, const Collection& collection,
                                     std::string_view query, size_t limit,
                                     const std::vector<MetadataFilter>& filters = {},
                                     const FtsQueryOptions& options = {});

// The same through FTS5 alone (the reference the index is tested against).
std::vector<ScoredChunk> bm25_search_fts5(Store& store, const Collection& collection,
                                          std::string_view query, size_t limit,
                                          const std::vector<MetadataFilter>& filters = {},
                                          const FtsQueryOptions& options = {});

}  // namespace ragd::rag
