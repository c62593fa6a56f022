// ragd serve: the HTTP API (OpenAI-compatible chat/completions/embeddings, RAG queries,
// document management, metrics). Settings come from, later winning: built-in defaults, a
// YAML --config file, RAGD_* environment variables (server.port → RAGD_SERVER_PORT), and
// flags. docs/serving.md lists every key; docs/api.md every endpoint.
#include <pthread.h>
#include <signal.h>

#include <fmt/format.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "app/commands.h"
#include "app/embed_options.h"
#include "app/model_options.h"
#include "app/rag_options.h"
#include "app/speculative_options.h"
#include "engine/model_registry.h"
#include "engine/model_variants.h"
#include "kernels/attention.h"
#include "model/gguf.h"
#include "server/http_server.h"
#include "server/routes.h"
#include "server/server_context.h"
#include "util/config.h"
#include "util/error.h"
#include "util/log.h"
#include "util/memory_budget.h"
#include "util/redis_kv_cache.h"

namespace ragd::app {
namespace {

namespace fs = std::filesystem;

// Every config key `ragd serve` reads, with the flag that sets it (empty: config only).
struct KeyInfo {
  const char* key;
  const char* flag;
  const char* help;
  const char* type = "";  // shown in --help instead of TEXT
};
constexpr KeyInfo kKeys[] = {
    {"server.host", "--host", "Address to listen on (127.0.0.1: this machine only)", "ADDR"},
    {"server.port", "--port", "Port (0: any free port, printed at start)", "PORT"},
    {"server.threads", "--http-threads", "HTTP worker threads (0: max(128, max_concurrent + 16))", "N"},
    {"server.max_body_bytes", "--max-body-size", "Largest request body, bytes or with KiB/MiB/GiB", "SIZE"},
    {"server.api_keys", "", ""},
    {"server.query_api_keys", "", ""},
    {"server.api_key_file", "--api-key-file", "Read API keys from FILE: 'KEY [admin|query] [collections=A,B]' per line", "FILE"},
    {"server.rate_limit_per_minute", "--rate-limit", "Requests per minute per API key or client (0: off); with --cache redis://…, across all replicas", "N"},
    {"server.max_connections", "--max-connections", "Requests in progress at once; beyond: 503 (0: the HTTP threads)", "N"},
    {"server.max_pending_connections", "", ""},
    {"server.header_timeout", "--header-timeout", "Seconds from connect (or idle) to the end of the headers; beyond: 408", "SECONDS"},
    {"server.read_timeout", "", ""},
    {"server.body_timeout", "", ""},
    {"server.write_timeout", "", ""},
    {"server.keep_alive_timeout", "", ""},
    {"server.listen_backlog", "", ""},
    {"server.cors_origins", "", ""},
    {"server.trusted_proxies", "", ""},
    {"server.tls_cert", "--tls-cert", "Serve HTTPS with this PEM certificate chain (with --tls-key)", "FILE"},
    {"server.tls_key", "--tls-key", "The PEM private key of --tls-cert", "FILE"},
    {"models.llm", "", ""},
    {"models.embedder", "", ""},
    {"models.keep_alive_seconds", "--keep-alive", "Unload a model idle this long (0: never)", "SECONDS"},
    {"models.max_instances", "--max-models", "Most models loaded at once", "N"},
    {"models.memory_budget", "--memory-budget", "Model memory budget, bytes or with MiB/GiB (0: none)", "SIZE"},
    {"models.max_memory", "--max-memory",
     "Memory the served models may take: a size (2G) or a share of RAM (40%); default $MAX_MEMORY_PERCENT. A language "
     "model estimated over it is replaced by a smaller installed variant of it, else refused at start",
     "SIZE|N%"},
    {"models.eviction", "--eviction", "Which idle model to unload first: lru or lfu", "POLICY"},
    {"models.threads", "--threads", "Compute threads per model (0: all cores)", "N"},
    {"models.warmup", "", ""},
    {"upstream.probe_interval", "--upstream-probe-interval", "Seconds between health probes of an upstream server in rotation", "SECONDS"},
    {"upstream.backoff", "--upstream-backoff", "Seconds a failed upstream server stays out before its first probe (doubles per failed probe)", "SECONDS"},
    {"upstream.max_backoff", "", ""},
    {"upstream.connect_timeout", "", ""},
    {"upstream.read_timeout", "", ""},
    {"scheduler.max_concurrent", "--max-concurrent", "Running + waiting requests per model; beyond: 503", "N"},
    {"scheduler.max_per_user", "--max-per-user", "Running + waiting requests per user (0: no cap); beyond: 429", "N"},
    {"scheduler.max_batch_size", "--max-batch-size", "Sequences decoded together per step", "N"},
    {"scheduler.max_batch_tokens", "--max-batch-tokens", "Tokens per step (decodes + prefill chunks)", "N"},
    {"scheduler.max_kv_cache_size", "--max-kv-cache-size", "KV cache pool per model, bytes or with MiB/GiB", "SIZE"},
    {"scheduler.ctx_size", "--ctx-size", "Positions per sequence (prompt + answer)", "N"},
    {"scheduler.queue_timeout", "--queue-timeout", "Seconds a request may wait before failing", "SECONDS"},
    {"scheduler.prefix_caching", "", ""},
    {"scheduler.kv_type", "--kv-type", "KV cache elements: f16 (half the memory) or f32", "TYPE"},
    {"scheduler.draft_model", "--draft-model",
     "Speculative decoding for the default model: a smaller model of its tokenizer family (FILE or installed name) "
     "proposes tokens it verifies in one pass, or 'lookup' to copy them from the prompt and answer so far (no second "
     "model; pays where answers quote their sources); greedy output is unchanged (default: off)", "MODEL"},
    {"scheduler.draft_tokens", "--draft-tokens", "Tokens the draft model or prompt lookup proposes per step (1..16)", "N"},
    {"generation.max_tokens", "--default-max-tokens", "max_tokens when a request gives none", "N"},
    {"data.db", "--db", "Data directory of the document store ($RAGD_DATA_DIR, else $XDG_DATA_HOME/ragd or "
     "~/.local/share/ragd: the CLI's)", "DIR"},
    {"data.store", "--store",
     "Document store: sqlite (in --db, the default) or postgres://USER@HOST:PORT/DB, shared by every replica "
     "that names it (--db then only caches vector indexes)", "URL"},
    {"rag.collection", "--collection", "Collection used when a RAG query names none", "NAME"},
    {"rag.max_source_tokens", "", ""},
    {"rag.rerank", "--rerank", "Rerank stage of RAG answers and searches: none or sentence", "NAME"},
    {"cache.embedding_capacity", "", ""},
    {"cache.embedding_file", "--embedding-cache", "Load the embedding cache from FILE at start, save it at exit", "FILE"},
    {"cache.result_capacity", "", ""},
    {"cache.result_ttl_seconds", "", ""},
    {"cache.answer_capacity", "", ""},
    {"cache.semantic_threshold", "", ""},
    {"cache.url", "--cache",
     "Where the answer, result and embedding caches and the rate-limit buckets live: memory (this process, "
     "the default) or redis://HOST:PORT[/DB], shared by every replica that names it", "URL"},
};

// The keys a config file may hold: exactly those `ragd serve` reads.
std::vector<std::string> known_keys() {
  std::vector<std::string> keys;
  for (const auto& k : kKeys) keys.push_back(k.key);
  return keys;
}

struct ServeCmd {
  std::map<std::string, std::string> flag_values;  // key → value as typed
  std::map<std::string, CLI::Option*> flag_options;
  std::vector<std::string> models, embedders, api_keys, query_api_keys, cors_origins, trusted_proxies;
  std::string config_file;
  bool warmup = false;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(start, comma - start);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

// "name=MODEL" or "MODEL" (named after the file, without .gguf); MODEL is a file or an
// installed model's name (resolve_model). "name=URL[#ID]" is a language model served by the
// OpenAI-compatible server at URL (engine/upstream_endpoint.h); a name given several times
// with URLs is balanced over them.
engine::ModelSpec model_spec(const std::string& arg, engine::ModelKind kind) {
  engine::ModelSpec spec;
  spec.kind = kind;
  size_t eq = arg.find('=');
  if (engine::is_upstream_url(arg)) {
    fail("--model {}: an upstream server needs a name: NAME={}", arg, arg);
  }
  if (eq != std::string::npos && eq > 0 && engine::is_upstream_url(arg.substr(eq + 1))) {
    if (kind != engine::ModelKind::Llm) fail("--embedder {}: only language models can be served by an upstream", arg);
    spec.name = arg.substr(0, eq);
    spec.upstreams.push_back(engine::parse_upstream_endpoint(arg.substr(eq + 1)));
  } else if (eq != std::string::npos && eq > 0) {
    spec.name = arg.substr(0, eq);
    spec.path = resolve_model(arg.substr(eq + 1));
  } else {
    spec.path = resolve_model(arg);
    spec.name = fs::path(spec.path).stem().string();
  }
  return spec;
}

// Serves until SIGINT/SIGTERM, or until a --warmup load fails: returns that failure's
// message ("" after a clean stop).
std::string serve(server::ServerContext& ctx, const server::ServerOptions& http_opts,
                  const std::vector<std::string>& warm, const std::string& db) {
  // Signals are taken by a watcher thread (sigwait), so they are blocked before any other
  // thread exists; every thread inherits the mask. SIGPIPE: a vanished client is an
  // error return from send(), not a process kill.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::HttpServer http(http_opts, ctx.metrics);
  server::register_all_routes(http, ctx);
  int port = http.bind();
  std::atomic<bool> stopping{false};
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (stopping) return;  // woken by the shutdown below, not by a user
    log::warn("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    http.stop();
  });
  std::string warm_error;  // written by the warmer before it stops the server, read after run()
  std::thread warmer;
  if (!warm.empty()) {
    // In the background, so /health answers at once; /ready turns 200 when done. A model
    // that cannot load stops the server: better a failed start than failed requests.
    warmer = std::thread([&] {
      try {
        ctx.registry.warm_up(warm);
        return;
      } catch (const std::exception& e) {
        warm_error = e.what();
      }
      log::error("warm-up failed: {}", warm_error);
      // stop() is a no-op until run() has started listening, so repeat it until run() returns.
      while (!stopping) {
        http.stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  std::thread sweeper([&] {
    // Unloads models idle past their keep-alive, every 5 s.
    while (!stopping) {
      for (int i = 0; i < 50 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!stopping) ctx.registry.sweep();
    }
  });
  std::vector<std::string> models = {*ctx.registry.default_model(engine::ModelKind::Llm)};
  if (auto e = ctx.registry.default_model(engine::ModelKind::Embedder)) models.push_back(*e);
  fmt::print("ragd serve: listening on {}://{}:{} (models: {}; store: {})\n", http_opts.tls ? "https" : "http",
             http_opts.host, port,
             fmt::join(models, ", "), db);
  std::fflush(stdout);
  http.run();
  // run() returned: a signal arrived (the watcher is done), the warm-up failed, or the
  // listener failed.
  stopping = true;
  http.stop();
  pthread_kill(watcher.native_handle(), SIGTERM);  // no-op if the watcher already returned
  watcher.join();
  sweeper.join();
  if (warmer.joinable()) warmer.join();
  return warm_error;
}

// Layers, later winning: --config file < environment < flags. Unknown keys in the file are
// refused here, before anything is read from it.
Config load_config(ServeCmd& cmd) {
  Config config;
  const auto keys = known_keys();
  if (!cmd.config_file.empty()) {
    config.load_yaml_file(cmd.config_file);
    config.check_known(keys);
  }
  config.load_environment(keys);
  for (const auto& k : kKeys) {
    auto opt = cmd.flag_options.find(k.key);
    if (opt != cmd.flag_options.end() && opt->second->count() > 0) config.set(k.key, cmd.flag_values[k.key], k.flag);
  }
  auto join = [](const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ",")); };
  if (!cmd.models.empty()) config.set("models.llm", join(cmd.models));
  if (!cmd.embedders.empty()) config.set("models.embedder", join(cmd.embedders));
  if (!cmd.api_keys.empty()) config.set("server.api_keys", join(cmd.api_keys));
  if (!cmd.query_api_keys.empty()) config.set("server.query_api_keys", join(cmd.query_api_keys));
  if (!cmd.cors_origins.empty()) config.set("server.cors_origins", join(cmd.cors_origins), "--cors-origin");
  if (!cmd.trusted_proxies.empty()) config.set("server.trusted_proxies", join(cmd.trusted_proxies), "--trusted-proxy");
  if (cmd.warmup) config.set("models.warmup", "true");
  return config;
}

// Every bound below is what the engine can run with; values outside are refused with the
// key, where it was set and the range, rather than clamped or wrapped to a huge size_t.
engine::RegistryOptions registry_options(const Config& config, const std::optional<MemoryBudget>& max_memory) {
  constexpr int64_t kMillion = 1000000;
  engine::RegistryOptions ro;
  ro.max_instances = static_cast<size_t>(config.get_int("models.max_instances", 4, 1, 1024));
  // --max-memory is also the eviction budget unless --memory-budget sets one of its own.
  ro.memory_budget_bytes = config.get_size("models.memory_budget", max_memory ? std::to_string(max_memory->bytes) : "0");
  std::string eviction = config.get_string("models.eviction", "lru");
  if (eviction != "lru" && eviction != "lfu") fail("'models.eviction' must be lru or lfu, got '{}'", eviction);
  ro.policy = eviction == "lfu" ? engine::EvictionPolicy::Lfu : engine::EvictionPolicy::Lru;
  ro.threads = static_cast<size_t>(config.get_int("models.threads", 0, 0, 4096));
  auto& so = ro.scheduler;
  so.max_concurrent = static_cast<size_t>(config.get_int("scheduler.max_concurrent", 100, 1, kMillion));
  so.max_per_user = static_cast<size_t>(config.get_int("scheduler.max_per_user", 0, 0, kMillion));
  so.max_batch_size = static_cast<size_t>(config.get_int("scheduler.max_batch_size", 32, 1, 65536));
  so.max_batch_tokens = static_cast<size_t>(config.get_int("scheduler.max_batch_tokens", 512, 1, 1 << 24));
  so.max_kv_cache_bytes = config.get_size("scheduler.max_kv_cache_size", "256MiB", 1 << 20);
  so.ctx_size = static_cast<size_t>(config.get_int("scheduler.ctx_size", 2048, 16, 1 << 20));
  so.queue_timeout = config.get_double("scheduler.queue_timeout", 30, 0, 86400);
  so.prefix_caching = config.get_bool("scheduler.prefix_caching", true);
  so.kv_type = kernels::kv_type_from_name(config.get_string("scheduler.kv_type", "f16"));
  so.draft_tokens = static_cast<size_t>(config.get_int("scheduler.draft_tokens", 4, 1, 16));
  auto& up = ro.upstream;
  up.health.probe_interval = config.get_double("upstream.probe_interval", 5, 0.1, 86400);
  up.health.backoff = config.get_double("upstream.backoff", 1, 0.1, 86400);
  up.health.max_backoff = config.get_double("upstream.max_backoff", std::max(30.0, up.health.backoff), up.health.backoff, 86400);
  up.connect_timeout = config.get_double("upstream.connect_timeout", 3, 0.1, 3600);
  up.read_timeout = config.get_double("upstream.read_timeout", 300, 1, 86400);
  up.max_concurrent = so.max_concurrent;
  ro.embedding.threads = ro.threads;
  return ro;
}

// Admin keys (--api-key, server.api_keys: admin for compatibility), query keys, and a key
// file. Origins name keys in errors without their secrets.
server::KeyRing api_keys(const Config& config) {
  server::KeyRing keys;
  auto add_all = [&](const char* key, server::Scope scope) {
    auto secrets = split_list(config.get_string(key, ""));
    for (size_t i = 0; i < secrets.size(); ++i) {
      keys.add({secrets[i], scope, {}, fmt::format("{} #{}", key, i + 1)});
    }
  };
  add_all("server.api_keys", server::Scope::Admin);
  add_all("server.query_api_keys", server::Scope::Query);
  if (auto file = config.get_string("server.api_key_file", ""); !file.empty()) keys.load_file(file);
  return keys;
}

// HTTPS needs both a certificate and its key; loaded here, so that a bad file stops the
// start before any model is loaded.
std::shared_ptr<const server::TlsContext> tls_context(const Config& config) {
  std::string cert = config.get_string("server.tls_cert", "");
  std::string key = config.get_string("server.tls_key", "");
  if (cert.empty() && key.empty()) return nullptr;
  if (key.empty()) fail("TLS: server.tls_cert is set but server.tls_key (--tls-key) is missing; give both or neither");
  if (cert.empty()) fail("TLS: server.tls_key is set but server.tls_cert (--tls-cert) is missing; give both or neither");
  return server::TlsContext::load(cert, key);
}

server::ServerOptions http_options(const Config& config, size_t max_concurrent) {
  server::ServerOptions o;
  o.host = config.get_string("server.host", "127.0.0.1");
  o.port = static_cast<int>(config.get_int("server.port", 8080, 0, 65535));
  o.threads = static_cast<size_t>(config.get_int("server.threads", 0, 0, 100000));
  o.max_concurrent = max_concurrent;
  o.max_body_bytes = config.get_size("server.max_body_bytes", "16MiB", 1024, uint64_t{1} << 36);
  o.keys = api_keys(config);
  o.rate_limit_per_minute = config.get_double("server.rate_limit_per_minute", 0, 0, 1e9);
  o.max_connections = static_cast<size_t>(config.get_int("server.max_connections", 0, 0, 100000));
  o.max_pending_connections =
      static_cast<size_t>(config.get_int("server.max_pending_connections", 2048, 1, 1000000));
  o.header_timeout_s = config.get_double("server.header_timeout", 10, 0.1, 3600);
  o.read_timeout_s = config.get_double("server.read_timeout", 10, 0.1, 3600);
  o.body_timeout_s = config.get_double("server.body_timeout", 60, 0.1, 86400);
  o.write_timeout_s = config.get_double("server.write_timeout", 60, 0.1, 86400);
  o.keep_alive_timeout_s = config.get_double("server.keep_alive_timeout", 5, 0, 3600);
  o.listen_backlog = static_cast<int>(config.get_int("server.listen_backlog", 1024, 1, 65535));
  o.cors = server::CorsPolicy(split_list(config.get_string("server.cors_origins", "")));
  o.trusted_proxies = server::TrustedProxies::parse(split_list(config.get_string("server.trusted_proxies", "")));
  o.tls = tls_context(config);
  return o;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// The memory an embedder takes when loaded: its file and a full vector cache (as the
// registry counts it).
uint64_t embedder_bytes(const std::string& path, size_t cache_capacity) {
  auto f = model::GgufFile::open(path);
  return f->file_size() + uint64_t{cache_capacity} * f->get_uint("bert.embedding_length", 0) * sizeof(float);
}

// With a memory budget, a language model whose estimate (with the default embedder) is over
// it is replaced by the best installed variant of it that fits, or the start is refused.
void fit_llm_to_budget(engine::ModelSpec& spec, bool named, const MemoryBudget& budget, uint64_t reserved,
                       const engine::RegistryOptions& ro) {
  const auto fit = engine::fit_to_budget(spec.path, default_model_dir(), budget.bytes, budget.describe(), reserved,
                                         ro.scheduler);
  if (!fit.substituted) {
    log::info("memory budget {}: {} needs {}", budget.describe(), spec.name, fit.memory.describe());
    return;
  }
  log::warn("memory budget {}: {} does not fit; serving its installed variant {} instead, which needs {}",
            budget.describe(), fs::path(spec.path).stem().string(), fit.name, fit.memory.describe());
  spec.path = fit.path;
  if (!named) spec.name = fit.name;
}

// Registers the configured models; returns the defaults (loaded by --warmup, required by
// GET /ready).
std::vector<std::string> add_models(const Config& config, engine::ModelRegistry& registry,
                                    const engine::RegistryOptions& ro, const std::optional<MemoryBudget>& budget) {
  double keep_alive = config.get_double("models.keep_alive_seconds", 300, 0, 1e9);
  auto llms = split_list(config.get_string("models.llm", ""));
  if (llms.empty()) {
    llms.push_back(default_llm_path(default_model_dir()));
  }
  auto embedders = split_list(config.get_string("models.embedder", ""));
  if (embedders.empty()) {
    auto path = fs::path(default_model_dir()) / kDefaultEmbedder;
    if (fs::exists(path)) {
      embedders.push_back(path.string());
    } else {
      log::warn("no embedding model ({} missing): /v1/embeddings and dense search are off", path.string());
    }
  }
  std::vector<engine::ModelSpec> embedder_specs;
  for (const auto& m : embedders) embedder_specs.push_back(model_spec(m, engine::ModelKind::Embedder));
  // Every language model must fit beside the default embedder, which stays loaded with it.
  uint64_t reserved = 0;
  if (budget && !embedder_specs.empty()) {
    const size_t capacity = ro.embedding.cache ? ro.embedding.cache->capacity() : ro.embedding.cache_capacity;
    reserved = embedder_bytes(embedder_specs.front().path, capacity);
  }
  // The draft model pairs with the default (first) language model, when it runs here.
  const std::string draft = config.get_string("scheduler.draft_model", "");
  for (const auto& m : llms) {
    auto spec = model_spec(m, engine::ModelKind::Llm);
    if (!draft.empty() && &m == &llms.front()) {
      if (!spec.upstreams.empty()) fail("--draft-model: the default model '{}' is served upstream, not here", spec.name);
      if (draft == kPromptLookupDrafter) {
        spec.prompt_lookup = true;
      } else {
        spec.draft_path = resolve_model(draft);
      }
    }
    const size_t eq = m.find('=');
    if (budget && spec.upstreams.empty()) fit_llm_to_budget(spec, eq != std::string::npos && eq > 0, *budget, reserved, ro);
    spec.keep_alive_seconds = keep_alive;
    registry.add(spec);
  }
  for (auto& spec : embedder_specs) {
    spec.keep_alive_seconds = keep_alive;
    registry.add(spec);
  }
  // Upstream models start now, so their servers are health-checked before the first request
  // (creating one loads nothing; it connects nowhere until its first probe).
  for (const auto& s : registry.status()) {
    if (!s.spec.upstreams.empty()) registry.warm_up({s.spec.name});
  }
  std::vector<std::string> warm = {*registry.default_model(engine::ModelKind::Llm)};
  if (auto e = registry.default_model(engine::ModelKind::Embedder)) warm.push_back(*e);
  return warm;
}

server::ServeOptions serve_options(const Config& config, size_t ctx_size, size_t priority_levels) {
  server::ServeOptions opts;
  opts.generation.max_tokens =
      static_cast<size_t>(config.get_int("generation.max_tokens", 256, 1, static_cast<int64_t>(ctx_size)));
  opts.generation.max_tokens_limit = ctx_size;
  opts.generation.priority_levels = priority_levels;
  opts.default_collection = config.get_string("rag.collection", kDefaultCollection);
  opts.prompt.max_source_tokens = static_cast<size_t>(config.get_int("rag.max_source_tokens", 1200, 1, 10000000));
  const std::string rerank = config.get_string("rag.rerank", "none");
  if (rerank != "none" && rerank != "sentence") {
    fail("rag.rerank (--rerank) must be none or sentence, not '{}'", rerank);
  }
  opts.sentence_rerank = rerank == "sentence";
  opts.embedding_cache_file = config.get_string("cache.embedding_file", "");
  return opts;
}

int run_serve(ServeCmd& cmd) {
  Config config = load_config(cmd);
  const auto max_memory =
      memory_budget_from(config.raw("models.max_memory"), "--max-memory", machine_memory_bytes());
  engine::RegistryOptions ro = registry_options(config, max_memory);
  constexpr int64_t kBillion = 1000000000;
  // --cache redis://...: each cache keeps its in-process LRU as a first level and shares
  // entries through Redis (keys ragd:<cache>:...); an unreachable Redis means misses.
  const CacheUrl cache_url = CacheUrl::parse(config.get_string("cache.url", "memory"));
  const std::shared_ptr<RedisClient> redis = connect_cache(cache_url);
  auto shared_cache = [&](const char* name) -> std::shared_ptr<KvCache> {
    return redis ? std::make_shared<RedisKvCache>(redis, name) : nullptr;
  };
  if (redis) {
    log::info("answer, result and embedding caches, rate limits and ingestion jobs shared through {}", cache_url.str());
    (void)redis->command({"PING"});  // an unreachable Redis is logged now, not at the first request
  }
  auto embedding_cache = std::make_shared<engine::EmbeddingCache>(
      static_cast<size_t>(config.get_int("cache.embedding_capacity", 10000, 0, kBillion)),
      shared_cache("embedding"));
  ro.embedding.cache = embedding_cache;
  ro.model_dir = default_model_dir();  // installed models are offered by name too
  engine::ModelRegistry registry(ro);
  const std::vector<std::string> warm = add_models(config, registry, ro, max_memory);

  server::ServeOptions opts = serve_options(config, ro.scheduler.ctx_size, ro.scheduler.priority_levels);
  const bool warmup = config.get_bool("models.warmup", false);
  if (warmup) {
    // Warmed-up defaults stay loaded: pinned models are neither evicted nor swept, so
    // GET /ready does not flap after a quiet spell.
    opts.warmup = warm;
    for (const auto& name : warm) registry.pin(name, true);
  }
  rag::ResultCache::Options rco;
  rco.capacity = static_cast<size_t>(config.get_int("cache.result_capacity", 1000, 0, kBillion));
  rco.ttl_seconds = config.get_double("cache.result_ttl_seconds", 1800, 0, 1e9);
  rag::AnswerCacheOptions aco;
  aco.capacity = static_cast<size_t>(config.get_int("cache.answer_capacity", 1000, 0, kBillion));
  aco.semantic_threshold = config.get_double("cache.semantic_threshold", 0.95, 0, 2);
  rco.shared = shared_cache("result");
  aco.shared = shared_cache("answer");
  server::ServerOptions http_opts = http_options(config, ro.scheduler.max_concurrent);
  http_opts.shared_rate_limits = redis;  // with --cache redis://…, --rate-limit holds across replicas
  if (http_opts.keys.empty() && !is_loopback(http_opts.host)) {
    log::warn("listening on {} without an API key: anyone who can reach this port can read every collection, "
              "upload and delete documents and load models; set --api-key, --api-key-file or "
              "RAGD_SERVER_API_KEYS (docs/serving.md, 'API keys')",
              http_opts.host);
  }

  std::string db = config.get_string("data.db", default_data_dir());
  std::string store_location = config.get_string("data.store", default_store());
  auto store = std::make_unique<server::StoreAccess>(db, store_location);
  if (!opts.embedding_cache_file.empty() && fs::exists(opts.embedding_cache_file)) {
    try {
      size_t n = embedding_cache->load(opts.embedding_cache_file);
      log::info("loaded {} cached embeddings from {}", n, opts.embedding_cache_file);
    } catch (const Error& e) {
      log::warn("embedding cache not loaded: {}", e.what());
    }
  }
  server::ServerContext ctx(registry, opts, std::move(store), embedding_cache, rco, aco, shared_cache("ingest"));
  std::string warm_error = serve(ctx, http_opts, warmup ? warm : std::vector<std::string>{}, db);
  ctx.store->persist_indexes();  // incremental index changes, so the next start loads, not rebuilds
  if (!opts.embedding_cache_file.empty()) {
    try {
      embedding_cache->save(opts.embedding_cache_file);
      log::info("saved {} cached embeddings to {}", embedding_cache->size(), opts.embedding_cache_file);
    } catch (const Error& e) {
      log::error("embedding cache not saved: {}", e.what());
    }
  }
  if (!warm_error.empty()) {
    fail("--warmup: {}; the server stopped (a model that cannot load would fail every request)", warm_error);
  }
  fmt::print("ragd serve: stopped\n");
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto cmd = std::make_shared<ServeCmd>();
  auto* sub = app.add_subcommand(
      "serve",
      "Serve the HTTP API: OpenAI-compatible /v1/chat/completions, /v1/completions, /v1/embeddings, "
      "/v1/models; /v1/rag/query; collections and documents; /metrics (see docs/api.md)");
  sub->footer(
      "Settings: flags > RAGD_* environment (server.port -> RAGD_SERVER_PORT) > --config YAML > defaults.\n"
      "docs/serving.md lists every key. Example:\n"
      "  ragd serve --model fast --warmup     # the store: ragd collections --path\n"
      "  curl http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\\n"
      "    -d '{\"model\":\"SmolLM2-135M-Instruct.Q4_1\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}'");
  sub->add_option("--config", cmd->config_file, "YAML settings file")->check(CLI::ExistingFile);
  sub->add_option("-m,--model", cmd->models,
                  "Language model: FILE, installed model name, or NAME=FILE (repeatable; the first is the default). Default: the "
                  "default model in $RAGD_MODEL_DIR or ./models. NAME=URL[#ID] serves NAME from an OpenAI-compatible server "
                  "(vLLM, llama-server, ragd), e.g. fast=http://10.0.0.5:8000/v1#Qwen/Qwen2.5-7B-Instruct; the same NAME "
                  "with several URLs is balanced over them (docs/scaling.md)")
      ->type_name("[NAME=]FILE|NAME=URL");
  sub->add_option("--embedder", cmd->embedders,
                  "Embedding model: FILE or NAME=FILE (repeatable). Default: all-MiniLM-L6-v2 in the model dir")
      ->type_name("[NAME=]FILE");
  sub->add_option("--api-key", cmd->api_keys,
                  "Require an API key; this one may do everything (repeatable; none: no authentication) "
                  "[server.api_keys]")
      ->type_name("KEY");
  sub->add_option("--query-api-key", cmd->query_api_keys,
                  "An API key that may ask, search and read but not administer (repeatable) [server.query_api_keys]")
      ->type_name("KEY");
  sub->add_option("--cors-origin", cmd->cors_origins,
                  "Let web pages from ORIGIN (scheme://host[:port], or *) call the API from a browser (repeatable; "
                  "default: none) [server.cors_origins]")
      ->type_name("ORIGIN");
  sub->add_option("--trusted-proxy", cmd->trusted_proxies,
                  "Take the client's address from X-Forwarded-For on requests from ADDR (an address or CIDR "
                  "network, e.g. the nginx in front; repeatable; default: none) [server.trusted_proxies]")
      ->type_name("ADDR");
  sub->add_flag("--warmup", cmd->warmup, "Load and pin the default models at start (GET /ready turns 200 when done)");
  for (const auto& k : kKeys) {
    if (!*k.flag) continue;
    cmd->flag_options[k.key] = sub->add_option(k.flag, cmd->flag_values[k.key], std::string(k.help) + " [" + k.key + "]")
                                   ->type_name(k.type);
  }
  return Command{sub, [cmd] { return run_serve(*cmd); }};
});

}  // namespace
}  // namespace ragd::app
