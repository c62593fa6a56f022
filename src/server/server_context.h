// ServerContext: everything the route handlers share — the model registry, the store,
// the caches, the metrics and the serving options. Created once by `ragd serve` and
// outliving the HTTP server; all members are thread-safe (or guarded as documented).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/embedding_cache.h"
#include "engine/model_registry.h"
#include "rag/answer/answer_cache.h"
#include "rag/ingest/chunker.h"
#include "rag/answer/prompt_builder.h"
#include "rag/search/result_cache.h"
#include "server/active_users.h"
#include "server/ingest_jobs.h"
#include "server/metrics.h"
#include "server/request_parsing.h"
#include "server/store_access.h"

namespace ragd::server {

struct ServeOptions {
  GenerationDefaults generation;
  std::string default_collection = "default";
  rag::PromptOptions prompt;            // RAG prompt layout and source budget
  bool sentence_rerank = false;         // the sentence reranker in RAG retrieval (--rerank sentence)
  rag::ChunkerOptions chunker;          // for documents uploaded through the API
  size_t max_batch_requests = 64;       // /v1/batch
  std::vector<std::string> warmup;      // models loaded at start (and required by /ready)
  std::string embedding_cache_file;     // saved by POST /v1/cache {"action":"save"} and at exit
};

class ServerContext {
 public:
  ServerContext(engine::ModelRegistry& registry, ServeOptions options, std::unique_ptr<StoreAccess> store,
                std::shared_ptr<engine::EmbeddingCache> embedding_cache,
                rag::ResultCache::Options result_cache = {}, rag::AnswerCacheOptions answer_cache = {},
                std::shared_ptr<KvCache> shared_ingest_jobs = nullptr);  // null: jobs known to this replica only

  engine::ModelRegistry& registry;
  const ServeOptions options;
  MetricsRegistry metrics;
  std::unique_ptr<StoreAccess> store;
  std::shared_ptr<engine::EmbeddingCache> embedding_cache;
  rag::ResultCache result_cache;
  rag::AnswerCache answer_cache;
  ActiveUsers active_users;  // touched by start_generation, counted at scrape time
  // Held for the whole of a model download (/api/pull): one at a time per server, and a
  // second pull of the same model waits, then finds it installed instead of fetching it again.
  std::mutex pull_mu;
  // Declared last: destroyed first, so its worker stops before the store and models it uses.
  IngestJobs ingest_jobs;

  // The named model (or the default of its kind for ""), loaded. ApiError 404 for an
  // unknown name, 400 for a model of the other kind. LLMs get the batch-size observer.
  std::shared_ptr<engine::LoadedModel> acquire(const std::string& name, engine::ModelKind kind);
  // Weight type of a registered model ("q4_1"), "" until it has been loaded once.
  std::string quantization(const std::string& name) const;
  // Refreshes the scrape-time gauges (queues, KV blocks, caches, process and machine
  // memory, active users, documents) and renders.
  std::string render_metrics();

 private:
  void declare_metrics();
  void refresh_model_metrics();
  void refresh_process_metrics();
  std::mutex scrape_mu_;  // one scrape at a time: gauges are cleared and refilled
};

}  // namespace ragd::server
