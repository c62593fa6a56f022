// Lexical retrieval: BM25 over a collection's FTS5 index (k1 = 1.2, b = 0.75, FTS5's
// built-in bm25() with the title, heading and text columns weighted equally).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "rag/fts_query.h"
#include "rag/metadata_filter.h"
#include "rag/store.h"

namespace ragd::rag {

struct ScoredChunk {
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  double score = 0;  // higher is better
};

// Best-first chunks matching any query term, at most `limit`. Scores are BM25 (FTS5's
// bm25() negated, so higher is better). A query with no searchable terms returns nothing.
std::vector<ScoredChunk> bm25_search(Store& store, const Collection& collection,
                                     std::string_view query, size_t limit,
                                     const std::vector<MetadataFilter>& filters = {},
                                     const FtsQueryOptions& options = {});

}  // namespace ragd::rag
