// Retrieval: query → ranked chunks or documents. Stages, each timed:
//   1. candidates  BM25 (FTS5) and/or dense (embedder + vector index), chunk level,
//                  metadata filters applied inside both
//   2. fusion      hybrid only: weighted min-max fusion or reciprocal-rank fusion
//   3. aggregation documents: each document's best chunk stands for it; chunks: as is
//   4. rerank      only when a Reranker is configured: the best profile.rerank_candidates
//                  are rescored (rag/search/ for the rerankers), the rest keep their order
//                  below them
//   5. cut         min-score threshold, then top_k; texts fetched for the survivors only
// Scores: bm25 mode → BM25; dense → cosine similarity; hybrid weighted → [0, 1];
// hybrid rrf → Σ 1/(60 + rank). min_score is compared with the score of the chosen mode.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rag/search/collection_vectors.h"
#include "rag/search/embedder.h"
#include "rag/search/fts_query.h"
#include "rag/search/fusion.h"
#include "rag/store/metadata_filter.h"
#include "rag/search/reranker.h"
#include "rag/store/store.h"

namespace ragd::rag {

enum class SearchMode { Bm25, Dense, Hybrid };
enum class FusionMethod { Weighted, Rrf };
enum class ResultLevel { Documents, Chunks };

SearchMode parse_search_mode(std::string_view name);  // bm25 | dense | hybrid
const char* search_mode_name(SearchMode mode);
FusionMethod parse_fusion_method(std::string_view name);  // weighted | rrf

// How much work a query may do. Candidate counts are per retriever, in chunks, and are
// raised to top_k × oversample so that document aggregation can still fill top_k.
struct SearchProfile {
  std::string name = "default";
  size_t bm25_candidates = 100;
  size_t dense_candidates = 100;
  size_t oversample = 3;
  size_t rerank_candidates = 20;
};

// "fast", "default" or "quality"; throws ragd::Error for other names.
SearchProfile search_profile(std::string_view name);

struct SearchOptions {
  SearchMode mode = SearchMode::Bm25;
  size_t top_k = 10;
  std::optional<double> min_score;
  ResultLevel level = ResultLevel::Documents;
  std::vector<MetadataFilter> filters;
  SearchProfile profile;
  FusionMethod fusion = FusionMethod::Weighted;
  double bm25_weight = 0.3;
  double dense_weight = 0.7;
  double rrf_k = 60;
  FtsQueryOptions fts;
};

struct SearchHit {
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  std::string external_id, title, heading, text;
  std::string metadata;  // the document's metadata, JSON text
  double score = 0;
  std::optional<double> bm25_score, dense_score;  // each retriever's raw score, if it found it
};

// embed_ms is the query's embedding (dense and hybrid); dense_ms the vector search alone.
// total_ms includes everything, so retrieval alone is total_ms - embed_ms.
struct SearchTimings {
  double embed_ms = 0;
  double bm25_ms = 0, dense_ms = 0, fusion_ms = 0, rerank_ms = 0, fetch_ms = 0, total_ms = 0;
};

class Retriever {
 public:
  // embedder/vectors/reranker may be null: dense and hybrid modes then fail with a clear
  // message, and reranking is skipped.
  Retriever(Store& store, Collection collection, Embedder* embedder = nullptr,
            CollectionVectors* vectors = nullptr, Reranker* reranker = nullptr);

  std::vector<SearchHit> search(std::string_view query, const SearchOptions& options,
                                SearchTimings* timings = nullptr);

 private:
  struct Candidates;
  void bm25_candidates(std::string_view query, const SearchOptions& o, size_t n, Candidates& c);
  // Returns the milliseconds spent embedding the query.
  double dense_candidates(std::string_view query, const SearchOptions& o, size_t n, Candidates& c);
  std::vector<ScoredId> rank(const SearchOptions& o, Candidates& c);
  void rerank(std::string_view query, std::vector<ScoredId>& ranked, size_t depth);
  std::vector<SearchHit> make_hits(const std::vector<ScoredId>& ranked, const Candidates& c);

  Store& store_;
  Collection collection_;
  Embedder* embedder_;
  CollectionVectors* vectors_;
  Reranker* reranker_;
};

}  // namespace ragd::rag
