// BEIR-format evaluation: corpus.jsonl (`_id`, `title`, `text`), queries.jsonl (`_id`,
// `text`) and qrels/<split>.tsv (query-id, corpus-id, score, with a header line). The corpus
// is ingested through the normal ingest path into the given store, every judged query is
// run through the normal Retriever, and the run is scored with eval_metrics.h.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/ingest/embed_chunks.h"
#include "rag/eval/eval_metrics.h"
#include "rag/ingest/ingest.h"
#include "rag/search/retriever.h"

namespace ragd::rag {

struct BeirData {
  std::filesystem::path corpus;
  // Queries that have judgments in the split, ordered by id.
  std::vector<std::pair<std::string, std::string>> queries;
  Qrels qrels;
};

// Calls `record(object, line_number)` for each non-blank line of a JSONL file, each of which
// must be a JSON object with `_id` and `text`; otherwise throws ragd::Error naming the file
// (`what` says which file it is) and the line. Shared by the BEIR and QA loaders.
void for_each_jsonl_record(const std::filesystem::path& file, const std::string& what,
                           const std::function<void(const nlohmann::json&, size_t)>& record);

// Throws ragd::Error naming the missing or malformed file.
BeirData load_beir(const std::filesystem::path& dir, const std::string& split = "test");

struct BeirOptions {
  IngestOptions ingest;
  SearchOptions search;  // top_k is raised to at least 100 for Recall@100
  // Needed for dense and hybrid: chunks without a vector are embedded after ingestion
  // (so a reused store embeds nothing twice).
  Embedder* embedder = nullptr;
  // Optional rerank stage (rag/search/reranker_factory.h); its depth is
  // search.profile.rerank_candidates.
  Reranker* reranker = nullptr;
  // 0: every judged query; else N of them spread evenly over the id order (query i of N is
  // the (i × total / N)-th), so that a subset covers the whole corpus.
  size_t max_queries = 0;
  ProgressFn ingest_progress;
  EmbedProgressFn embed_progress;
};

struct BeirReport {
  std::string mode;
  size_t documents = 0, chunks = 0, queries = 0;
  double ingest_seconds = 0, documents_per_second = 0, chunks_per_second = 0;
  double ndcg_at_10 = 0, recall_at_100 = 0, mrr_at_10 = 0;
  double hit_at_4 = 0, recall_at_4 = 0;  // the RAG answer's view: 4 chunks in the prompt
  size_t chunks_embedded = 0;  // by this run (0 when a reused store had them all)
  double embed_seconds = 0;
  // Retrieval alone: the query's embedding is measured separately (embed_ms_*).
  double latency_ms_p50 = 0, latency_ms_p99 = 0, latency_ms_mean = 0;
  double embed_ms_p50 = 0, embed_ms_p99 = 0;
  double rerank_ms_p50 = 0, rerank_ms_p99 = 0;  // part of latency_ms_*
};

// Queries with no results count as 0 for every metric (BEIR would drop them from the mean;
// with any-term BM25 matching that only happens for queries without indexable terms).
BeirReport evaluate_beir(const BeirData& data, Store& store, const BeirOptions& options);

}  // namespace ragd::rag
