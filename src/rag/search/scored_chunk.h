// A chunk found by a lexical retriever, with its document (for aggregation) and score.
#pragma once

#include <cstdint>

namespace ragd::rag {

struct ScoredChunk {
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  double score = 0;  // higher is better
};

}  // namespace ragd::rag
