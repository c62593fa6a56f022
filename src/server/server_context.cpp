#include "server/server_context.h"

#include "server/api_error.h"
#include "server/process_stats.h"
#include "util/error.h"

namespace ragd::server {
namespace {

double ratio(double hits, double misses) { return hits + misses > 0 ? hits / (hits + misses) : 0; }

}  // namespace

ServerContext::ServerContext(engine::ModelRegistry& registry_, ServeOptions options_,
                             std::unique_ptr<StoreAccess> store_,
                             std::shared_ptr<engine::EmbeddingCache> embedding_cache_,
                             rag::ResultCache::Options result_cache_options,
                             rag::AnswerCacheOptions answer_cache_options,
                             std::shared_ptr<KvCache> shared_ingest_jobs)
    : registry(registry_),
      options(std::move(options_)),
      store(std::move(store_)),
      embedding_cache(std::move(embedding_cache_)),
      result_cache(std::move(result_cache_options)),
      answer_cache(answer_cache_options),
      ingest_jobs(IngestJobsOptions{.shared = std::move(shared_ingest_jobs)}) {
  declare_metrics();
}

void ServerContext::declare_metrics() {
  using R = MetricsRegistry;
  auto& m = metrics;
  auto latency = R::exponential_buckets(0.005, 2, 14);  // 5 ms .. 41 s
  m.histogram("ragd_request_duration_seconds",
              "Generation request latency (submit to last token) by model and quantization", latency);
  m.histogram("ragd_time_to_first_token_seconds", "Submit to first generated token", latency);
  m.histogram("ragd_inter_token_latency_seconds",
              "Mean time between consecutive generated tokens of each request",
              R::exponential_buckets(0.001, 2, 14));
  m.histogram("ragd_queue_wait_seconds", "Time a request waited before its first scheduling step", latency);
  m.counter("ragd_generated_tokens_total", "Completion tokens generated");
  m.counter("ragd_prompt_tokens_total", "Prompt tokens of admitted requests");
  m.counter("ragd_requests_finished_total", "Generation requests by finish reason");
  m.counter("ragd_requests_rejected_total", "Generation requests refused by admission control");
  m.gauge("ragd_queue_depth", "Requests waiting for the scheduler, by priority (0 = highest)");
  m.gauge("ragd_running_sequences", "Sequences in the running batch");
  m.histogram("ragd_batch_size", "Sequences per scheduler step", {1, 2, 4, 8, 16, 32, 64, 128, 256});
  m.histogram("ragd_batch_tokens", "Tokens (decode + prefill) per scheduler step",
              {1, 4, 16, 32, 64, 128, 256, 512, 1024, 2048});
  m.gauge("ragd_kv_cache_blocks", "KV cache blocks by state (used, cached, free)");
  m.counter("ragd_prefix_cache_hit_tokens_total", "Prompt tokens served from the prefix cache");
  m.counter("ragd_prefix_cache_query_tokens_total", "Prompt tokens looked up in the prefix cache");
  m.counter("ragd_cache_hits_total", "Cache hits (embedding, result, answer_exact, answer_semantic)");
  m.counter("ragd_cache_misses_total", "Cache misses (embedding, result, answer)");
  m.gauge("ragd_cache_hit_ratio", "Hits / lookups since start, per cache (prefix: tokens)");
  m.gauge("ragd_cache_entries", "Entries held per cache");
  m.counter("ragd_cache_shared_hits_total",
            "Of the cache hits, those served by the shared backend (--cache redis://): entries another replica stored");
  m.counter("ragd_cache_backend_errors_total",
            "Shared cache backend operations that failed (unreachable Redis): each a miss or a lost write");
  m.gauge("ragd_process_resident_memory_bytes", "Resident set size of the server process");
  m.gauge("ragd_memory_usage_ratio", "Resident memory of the server process / the machine's memory (0..1)");
  m.gauge("ragd_machine_memory_bytes", "The machine's memory (MemTotal of /proc/meminfo)");
  m.gauge("ragd_kv_cache_usage_ratio",
          "KV cache blocks held by running sequences / all blocks of the model's pool (0..1); prefix-cached "
          "blocks no sequence holds count as free");
  m.counter("ragd_prefill_tokens_total",
            "Prompt tokens computed by forward passes (prefix-cache hits and choices sharing their prompt's KV "
            "excluded, recomputes after preemption included)");
  m.counter("ragd_shared_prompt_tokens_total",
            "Prompt tokens the choices of an n > 1 request took from their first choice's KV blocks instead of computing");
  m.counter("ragd_preemptions_total",
            "Running sequences that gave their KV blocks back for lack of memory, to be recomputed later");
  m.counter("ragd_spec_draft_tokens_total", "Speculative decoding: tokens the draft model proposed");
  m.counter("ragd_spec_accepted_tokens_total", "Speculative decoding: proposed tokens the target model accepted");
  m.counter("ragd_spec_rounds_total", "Speculative decoding: verification passes of one sequence (each emits accepted + 1 tokens)");
  m.gauge("ragd_active_users",
          "Distinct users (API key, else the request's user field, else the client address) that sent a "
          "generation request in the last 5 minutes");
  // The names every Prometheus client library exports (dashboards expect them).
  m.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  m.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
  m.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  m.gauge("process_open_fds", "Number of open file descriptors.");
  m.gauge("process_max_fds", "Maximum number of open file descriptors.");
  m.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  m.histogram("ragd_retrieval_duration_seconds", "Retrieval time (BM25 / vector search, fusion) by mode",
              R::exponential_buckets(0.0005, 2, 14));
  m.histogram("ragd_embedding_duration_seconds", "Query embedding time", R::exponential_buckets(0.0005, 2, 14));
  m.gauge("ragd_collection_documents", "Documents per collection");
  m.gauge("ragd_collection_chunks", "Chunks per collection");
  m.counter("ragd_vector_index_updates_total",
            "How cached vector indexes followed the store: opened, incremental (change log applied), rebuilt");
  m.gauge("ragd_ingest_jobs_queued", "Document ingestion jobs waiting to start");
  m.gauge("ragd_model_loaded", "1 when the model is loaded");
  m.gauge("ragd_model_memory_bytes", "Estimated memory of a loaded model (weights + KV pool)");
  m.gauge("ragd_upstream_up", "1 while an upstream server of a model is in rotation, 0 while it is out");
  m.gauge("ragd_upstream_in_flight", "Requests in flight to an upstream server");
  m.gauge("ragd_upstream_requests_total", "Requests sent to an upstream server (retries included)");
  m.gauge("ragd_upstream_failures_total", "Failed requests and health probes of an upstream server");
}

std::shared_ptr<engine::LoadedModel> ServerContext::acquire(const std::string& requested, engine::ModelKind kind) {
  std::string name = requested;
  if (name.empty()) {
    auto d = registry.default_model(kind);
    if (!d) {
      throw ApiError(503, std::string("no ") + (kind == engine::ModelKind::Llm ? "language" : "embedding") +
                              " model is configured on this server (see ragd serve --help)");
    }
    name = *d;
  }
  if (!registry.contains(name)) {
    std::string names;
    for (const auto& s : registry.status()) {
      if (s.spec.kind == kind) names += (names.empty() ? "" : ", ") + s.spec.name;
    }
    throw ApiError(404, "model '" + name + "' does not exist; available: " + names + " (GET /v1/models)",
                   "", "model", "model_not_found");
  }
  for (const auto& s : registry.status()) {
    if (s.spec.name == name && s.spec.kind != kind) {
      throw bad_request("model '" + name + "' is an " + engine::model_kind_name(s.spec.kind) + " model; this endpoint needs an " +
                            engine::model_kind_name(kind) + " model",
                        "model");
    }
  }
  std::shared_ptr<engine::LoadedModel> m;
  try {
    m = registry.acquire(name, kind);
  } catch (const Error& e) {
    throw ApiError(500, std::string("model '") + name + "' failed to load: " + e.what());
  }
  if (m->scheduler) {
    // Set on every acquire: cheap, and a reloaded model has a new scheduler.
    std::string model_name = name;
    m->scheduler->set_step_observer([this, model_name](const engine::StepInfo& step) {
      metrics.observe("ragd_batch_size", {{"model", model_name}}, static_cast<double>(step.sequences));
      metrics.observe("ragd_batch_tokens", {{"model", model_name}},
                      static_cast<double>(step.decode_tokens + step.prefill_tokens));
    });
  }
  return m;
}

std::string ServerContext::quantization(const std::string& name) const {
  for (const auto& s : registry.status()) {
    if (s.spec.name == name) return s.quantization;
  }
  return "";
}

void ServerContext::refresh_model_metrics() {
  auto& m = metrics;
  uint64_t prefix_hits = 0, prefix_queries = 0;
  for (const auto& s : registry.status()) {
    Labels model = {{"model", s.spec.name}};
    m.set("ragd_model_loaded", {{"model", s.spec.name}, {"kind", engine::model_kind_name(s.spec.kind)}}, s.loaded ? 1 : 0);
    if (!s.loaded) continue;
    m.set("ragd_model_memory_bytes", model, static_cast<double>(s.memory_bytes));
    for (const auto& u : s.upstreams) {  // an upstream model (engine/upstream_model.h)
      Labels l = {{"model", s.spec.name}, {"upstream", u.url}};
      m.set("ragd_upstream_up", l, u.up ? 1 : 0);
      m.set("ragd_upstream_in_flight", l, static_cast<double>(u.in_flight));
      m.set("ragd_upstream_requests_total", l, static_cast<double>(u.requests));
      m.set("ragd_upstream_failures_total", l, static_cast<double>(u.failures));
    }
    if (!s.upstreams.empty()) continue;
    if (s.spec.kind != engine::ModelKind::Llm) continue;
    // A loaded LLM: read its scheduler through a short-lived handle. That counts as a use
    // (a scraped model's idle clock restarts), so only models reported loaded are touched;
    // one unloaded in between would be loaded again (rare, and only costs its load time).
    std::shared_ptr<engine::LoadedModel> handle;
    try {
      handle = registry.acquire(s.spec.name, engine::ModelKind::Llm);
    } catch (const Error&) {
      continue;
    }
    if (!handle->scheduler) continue;
    auto st = handle->scheduler->stats();
    m.set("ragd_running_sequences", model, static_cast<double>(st.running));
    for (size_t p = 0; p < st.waiting_by_priority.size(); ++p) {
      m.set("ragd_queue_depth", {{"model", s.spec.name}, {"priority", std::to_string(p)}},
            static_cast<double>(st.waiting_by_priority[p]));
    }
    m.set("ragd_kv_cache_blocks", {{"model", s.spec.name}, {"state", "used"}}, static_cast<double>(st.blocks.used));
    m.set("ragd_kv_cache_blocks", {{"model", s.spec.name}, {"state", "cached"}}, static_cast<double>(st.blocks.cached));
    m.set("ragd_kv_cache_blocks", {{"model", s.spec.name}, {"state", "free"}}, static_cast<double>(st.blocks.free));
    m.set("ragd_prefix_cache_hit_tokens_total", model, static_cast<double>(st.blocks.prefix_hit_tokens));
    m.set("ragd_prefix_cache_query_tokens_total", model, static_cast<double>(st.blocks.prefix_query_tokens));
    const double blocks = static_cast<double>(st.blocks.used + st.blocks.cached + st.blocks.free);
    m.set("ragd_kv_cache_usage_ratio", model, blocks > 0 ? static_cast<double>(st.blocks.used) / blocks : 0);
    m.set("ragd_preemptions_total", model, static_cast<double>(st.preemptions));
    m.set("ragd_prefill_tokens_total", model, static_cast<double>(st.prompt_tokens));
    m.set("ragd_shared_prompt_tokens_total", model, static_cast<double>(st.shared_prompt_tokens));
    if (st.speculative) {
      m.set("ragd_spec_draft_tokens_total", model, static_cast<double>(st.spec.proposed));
      m.set("ragd_spec_accepted_tokens_total", model, static_cast<double>(st.spec.accepted));
      m.set("ragd_spec_rounds_total", model, static_cast<double>(st.spec.rounds));
    }
    prefix_hits += st.blocks.prefix_hit_tokens;
    prefix_queries += st.blocks.prefix_query_tokens;
  }
  m.set("ragd_cache_hit_ratio", {{"cache", "prefix"}}, prefix_queries ? double(prefix_hits) / double(prefix_queries) : 0);
}

void ServerContext::refresh_process_metrics() {
  auto& m = metrics;
  const ProcessStats p = read_process_stats();
  m.set("ragd_process_resident_memory_bytes", {}, static_cast<double>(p.resident_bytes));
  m.set("process_resident_memory_bytes", {}, static_cast<double>(p.resident_bytes));
  m.set("process_virtual_memory_bytes", {}, static_cast<double>(p.virtual_bytes));
  m.set("process_cpu_seconds_total", {}, p.cpu_seconds);
  m.set("process_open_fds", {}, static_cast<double>(p.open_fds));
  m.set("process_max_fds", {}, static_cast<double>(p.max_fds));
  m.set("process_start_time_seconds", {}, p.start_time_seconds);
  m.set("ragd_machine_memory_bytes", {}, static_cast<double>(p.machine_memory_bytes));
  m.set("ragd_memory_usage_ratio", {},
        p.machine_memory_bytes ? static_cast<double>(p.resident_bytes) / static_cast<double>(p.machine_memory_bytes) : 0);
  m.set("ragd_active_users", {}, static_cast<double>(active_users.count()));
}

std::string ServerContext::render_metrics() {
  std::lock_guard scrape(scrape_mu_);
  auto& m = metrics;
  for (const char* g : {"ragd_queue_depth", "ragd_running_sequences", "ragd_kv_cache_blocks", "ragd_model_loaded",
                        "ragd_model_memory_bytes", "ragd_prefix_cache_hit_tokens_total",
                        "ragd_prefix_cache_query_tokens_total", "ragd_collection_documents",
                        "ragd_collection_chunks", "ragd_cache_hit_ratio", "ragd_kv_cache_usage_ratio",
                        "ragd_preemptions_total", "ragd_spec_draft_tokens_total",
                        "ragd_spec_accepted_tokens_total", "ragd_spec_rounds_total", "ragd_upstream_up", "ragd_upstream_in_flight",
                        "ragd_upstream_requests_total", "ragd_upstream_failures_total"}) {
    m.clear(g);
  }
  refresh_model_metrics();
  refresh_process_metrics();
  if (embedding_cache) {
    double h = static_cast<double>(embedding_cache->hits()), x = static_cast<double>(embedding_cache->misses());
    m.set("ragd_cache_hits_total", {{"cache", "embedding"}}, h);
    m.set("ragd_cache_misses_total", {{"cache", "embedding"}}, x);
    m.set("ragd_cache_hit_ratio", {{"cache", "embedding"}}, ratio(h, x));
    m.set("ragd_cache_entries", {{"cache", "embedding"}}, static_cast<double>(embedding_cache->size()));
    if (embedding_cache->shared()) {
      m.set("ragd_cache_shared_hits_total", {{"cache", "embedding"}}, double(embedding_cache->shared_hits()));
      m.set("ragd_cache_backend_errors_total", {{"cache", "embedding"}}, double(embedding_cache->shared_errors()));
    }
  }
  auto rs = result_cache.stats();
  m.set("ragd_cache_hits_total", {{"cache", "result"}}, static_cast<double>(rs.hits));
  m.set("ragd_cache_misses_total", {{"cache", "result"}}, static_cast<double>(rs.misses));
  m.set("ragd_cache_hit_ratio", {{"cache", "result"}}, ratio(double(rs.hits), double(rs.misses)));
  m.set("ragd_cache_entries", {{"cache", "result"}}, static_cast<double>(rs.size));
  if (result_cache.shared()) {
    m.set("ragd_cache_shared_hits_total", {{"cache", "result"}}, static_cast<double>(rs.shared_hits));
    m.set("ragd_cache_backend_errors_total", {{"cache", "result"}}, static_cast<double>(rs.shared_errors));
  }
  auto as = answer_cache.stats();
  m.set("ragd_cache_hits_total", {{"cache", "answer_exact"}}, static_cast<double>(as.exact_hits));
  m.set("ragd_cache_hits_total", {{"cache", "answer_semantic"}}, static_cast<double>(as.semantic_hits));
  m.set("ragd_cache_misses_total", {{"cache", "answer"}}, static_cast<double>(as.misses));
  m.set("ragd_cache_hit_ratio", {{"cache", "answer"}},
        ratio(double(as.exact_hits + as.semantic_hits), double(as.misses)));
  m.set("ragd_cache_entries", {{"cache", "answer"}}, static_cast<double>(as.size));
  if (answer_cache.options().shared) {
    m.set("ragd_cache_shared_hits_total", {{"cache", "answer"}}, static_cast<double>(as.shared_hits));
    m.set("ragd_cache_backend_errors_total", {{"cache", "answer"}}, static_cast<double>(as.shared_errors));
  }
  m.set("ragd_ingest_jobs_queued", {}, static_cast<double>(ingest_jobs.pending()));
  if (store) {
    auto u = store->index_updates();
    m.set("ragd_vector_index_updates_total", {{"kind", "opened"}}, static_cast<double>(u.opened));
    m.set("ragd_vector_index_updates_total", {{"kind", "incremental"}}, static_cast<double>(u.incremental));
    m.set("ragd_vector_index_updates_total", {{"kind", "rebuilt"}}, static_cast<double>(u.rebuilt));
    store->read([&](rag::Store& s) {
      for (const auto& c : s.list_collections()) {
        auto st = s.stats(c.id);
        m.set("ragd_collection_documents", {{"collection", c.name}}, static_cast<double>(st.documents));
        m.set("ragd_collection_chunks", {{"collection", c.name}}, static_cast<double>(st.chunks));
      }
      return 0;
    });
  }
  return m.render();
}

}  // namespace ragd::server
