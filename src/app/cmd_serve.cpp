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
#include <thread>

#include "app/commands.h"
#include "app/embed_options.h"
#include "app/model_options.h"
#include "app/rag_options.h"
#include "engine/model_registry.h"
#include "kernels/attention.h"
#include "server/http_server.h"
#include "server/routes.h"
#include "server/server_context.h"
#include "util/config.h"
#include "util/error.h"
#include "util/log.h"

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
    {"server.rate_limit_per_minute", "--rate-limit", "Requests per minute per API key or client (0: off)", "N"},
    {"models.llm", "", ""},
    {"models.embedder", "", ""},
    {"models.keep_alive_seconds", "--keep-alive", "Unload a model idle this long (0: never)", "SECONDS"},
    {"models.max_instances", "--max-models", "Most models loaded at once", "N"},
    {"models.memory_budget", "--memory-budget", "Model memory budget, bytes or with MiB/GiB (0: none)", "SIZE"},
    {"models.eviction", "--eviction", "Which idle model to unload first: lru or lfu", "POLICY"},
    {"models.threads", "--threads", "Compute threads per model (0: all cores)", "N"},
    {"models.warmup", "", ""},
    {"scheduler.max_concurrent", "--max-concurrent", "Running + waiting requests per model; beyond: 503", "N"},
    {"scheduler.max_per_user", "--max-per-user", "Running + waiting requests per user (0: no cap); beyond: 429", "N"},
    {"scheduler.max_batch_size", "--max-batch-size", "Sequences decoded together per step", "N"},
    {"scheduler.max_batch_tokens", "--max-batch-tokens", "Tokens per step (decodes + prefill chunks)", "N"},
    {"scheduler.max_kv_cache_size", "--max-kv-cache-size", "KV cache pool per model, bytes or with MiB/GiB", "SIZE"},
    {"scheduler.ctx_size", "--ctx-size", "Positions per sequence (prompt + answer)", "N"},
    {"scheduler.queue_timeout", "--queue-timeout", "Seconds a request may wait before failing", "SECONDS"},
    {"scheduler.prefix_caching", "", ""},
    {"scheduler.kv_type", "--kv-type", "KV cache elements: f16 (half the memory) or f32", "TYPE"},
    {"generation.max_tokens", "--default-max-tokens", "max_tokens when a request gives none", "N"},
    {"data.db", "--db", "Data directory of the document store ($RAGD_DATA_DIR or ./data)", "DIR"},
    {"rag.collection", "--collection", "Collection used when a RAG query names none", "NAME"},
    {"rag.max_source_tokens", "", ""},
    {"cache.embedding_capacity", "", ""},
    {"cache.embedding_file", "--embedding-cache", "Load the embedding cache from FILE at start, save it at exit", "FILE"},
    {"cache.result_capacity", "", ""},
    {"cache.result_ttl_seconds", "", ""},
    {"cache.answer_capacity", "", ""},
    {"cache.semantic_threshold", "", ""},
};

struct ServeCmd {
  std::map<std::string, std::string> flag_values;  // key → value as typed
  std::map<std::string, CLI::Option*> flag_options;
  std::vector<std::string> models, embedders, api_keys;
  std::string config_file;
  bool warmup = false;
};

// "512", "64MiB", "1.5GiB", "256M" → bytes.
size_t parse_size(const std::string& key, const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  std::string unit = text.substr(i);
  double value = 0;
  try {
    value = std::stod(text.substr(0, i));
  } catch (const std::exception&) {
    fail("'{}' must be a size like 268435456, 256MiB or 1GiB, got '{}'", key, text);
  }
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, double> units = {
      {"", 1},          {"b", 1},          {"k", 1024},           {"kb", 1e3},          {"kib", 1024},
      {"m", 1 << 20},   {"mb", 1e6},       {"mib", 1 << 20},      {"g", 1 << 30},       {"gb", 1e9},
      {"gib", 1 << 30}};
  auto it = units.find(unit);
  if (it == units.end()) fail("'{}': unknown size unit '{}' (use KiB, MiB or GiB)", key, unit);
  return static_cast<size_t>(value * it->second);
}

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

// "name=FILE" or "FILE" (named after the file, without .gguf).
engine::ModelSpec model_spec(const std::string& arg, engine::ModelKind kind) {
  engine::ModelSpec spec;
  spec.kind = kind;
  size_t eq = arg.find('=');
  if (eq != std::string::npos && eq > 0) {
    spec.name = arg.substr(0, eq);
    spec.path = arg.substr(eq + 1);
  } else {
    spec.path = arg;
    spec.name = fs::path(arg).stem().string();
  }
  if (!fs::exists(spec.path)) fail("model file {} does not exist (run 'make models'?)", spec.path);
  return spec;
}

int run_serve(ServeCmd& cmd) {
  Config config;
  if (!cmd.config_file.empty()) config.load_yaml_file(cmd.config_file);
  std::vector<std::string> keys;
  for (const auto& k : kKeys) keys.push_back(k.key);
  config.load_environment(keys);
  for (const auto& [key, opt] : cmd.flag_options) {
    if (opt->count() > 0) config.set(key, cmd.flag_values[key]);
  }
  auto join = [](const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ",")); };
  if (!cmd.models.empty()) config.set("models.llm", join(cmd.models));
  if (!cmd.embedders.empty()) config.set("models.embedder", join(cmd.embedders));
  if (!cmd.api_keys.empty()) config.set("server.api_keys", join(cmd.api_keys));
  if (cmd.warmup) config.set("models.warmup", "true");

  // Models: the first of each kind is the default.
  engine::RegistryOptions ro;
  ro.max_instances = static_cast<size_t>(config.get_int("models.max_instances", 4));
  ro.memory_budget_bytes = parse_size("models.memory_budget", config.get_string("models.memory_budget", "0"));
  std::string eviction = config.get_string("models.eviction", "lru");
  if (eviction != "lru" && eviction != "lfu") fail("'models.eviction' must be lru or lfu, got '{}'", eviction);
  ro.policy = eviction == "lfu" ? engine::EvictionPolicy::Lfu : engine::EvictionPolicy::Lru;
  ro.threads = static_cast<size_t>(config.get_int("models.threads", 0));
  auto& so = ro.scheduler;
  so.max_concurrent = static_cast<size_t>(config.get_int("scheduler.max_concurrent", 100));
  so.max_per_user = static_cast<size_t>(config.get_int("scheduler.max_per_user", 0));
  so.max_batch_size = static_cast<size_t>(config.get_int("scheduler.max_batch_size", 32));
  so.max_batch_tokens = static_cast<size_t>(config.get_int("scheduler.max_batch_tokens", 512));
  so.max_kv_cache_bytes = parse_size("scheduler.max_kv_cache_size", config.get_string("scheduler.max_kv_cache_size", "256MiB"));
  so.ctx_size = static_cast<size_t>(config.get_int("scheduler.ctx_size", 2048));
  so.queue_timeout = config.get_double("scheduler.queue_timeout", 30);
  so.prefix_caching = config.get_bool("scheduler.prefix_caching", true);
  so.kv_type = kernels::kv_type_from_name(config.get_string("scheduler.kv_type", "f16"));
  if (so.max_concurrent == 0) fail("'scheduler.max_concurrent' must be at least 1");
  auto embedding_cache = std::make_shared<engine::EmbeddingCache>(
      static_cast<size_t>(config.get_int("cache.embedding_capacity", 10000)));
  ro.embedding.cache = embedding_cache;
  ro.embedding.threads = ro.threads;
  engine::ModelRegistry registry(ro);

  double keep_alive = config.get_double("models.keep_alive_seconds", 300);
  auto llms = split_list(config.get_string("models.llm", ""));
  if (llms.empty()) {
    auto path = fs::path(default_model_dir()) / kDefaultLlm;
    if (!fs::exists(path)) fail("no --model given and the default model {} is missing; run 'make models'", path.string());
    llms.push_back(path.string());
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
  for (const auto& m : llms) {
    auto spec = model_spec(m, engine::ModelKind::Llm);
    spec.keep_alive_seconds = keep_alive;
    registry.add(spec);
  }
  for (const auto& m : embedders) {
    auto spec = model_spec(m, engine::ModelKind::Embedder);
    spec.keep_alive_seconds = keep_alive;
    registry.add(spec);
  }
  // The default models: loaded by --warmup and required by GET /ready.
  std::vector<std::string> warm = {*registry.default_model(engine::ModelKind::Llm)};
  if (auto e = registry.default_model(engine::ModelKind::Embedder)) warm.push_back(*e);

  server::ServeOptions opts;
  opts.generation.max_tokens = static_cast<size_t>(config.get_int("generation.max_tokens", 256));
  opts.generation.max_tokens_limit = so.ctx_size;
  opts.generation.priority_levels = so.priority_levels;
  opts.default_collection = config.get_string("rag.collection", "default");
  opts.prompt.max_source_tokens = static_cast<size_t>(config.get_int("rag.max_source_tokens", 1200));
  opts.embedding_cache_file = config.get_string("cache.embedding_file", "");
  const bool warmup = config.get_bool("models.warmup", false);
  if (warmup) {
    // Warmed-up defaults stay loaded: pinned models are neither evicted nor swept, so
    // GET /ready does not flap after a quiet spell.
    opts.warmup = warm;
    for (const auto& name : warm) registry.pin(name, true);
  }

  std::string db = config.get_string("data.db", default_data_dir());
  auto store = std::make_unique<server::StoreAccess>(db);

  rag::ResultCache::Options rco;
  rco.capacity = static_cast<size_t>(config.get_int("cache.result_capacity", 1000));
  rco.ttl_seconds = config.get_double("cache.result_ttl_seconds", 1800);
  rag::AnswerCacheOptions aco;
  aco.capacity = static_cast<size_t>(config.get_int("cache.answer_capacity", 1000));
  aco.semantic_threshold = config.get_double("cache.semantic_threshold", 0.95);

  if (!opts.embedding_cache_file.empty() && fs::exists(opts.embedding_cache_file)) {
    try {
      size_t n = embedding_cache->load(opts.embedding_cache_file);
      log::info("loaded {} cached embeddings from {}", n, opts.embedding_cache_file);
    } catch (const Error& e) {
      log::warn("embedding cache not loaded: {}", e.what());
    }
  }

  server::ServerContext ctx(registry, opts, std::move(store), embedding_cache, rco, aco);

  server::ServerOptions http_opts;
  http_opts.host = config.get_string("server.host", "127.0.0.1");
  http_opts.port = static_cast<int>(config.get_int("server.port", 8080));
  if (http_opts.port < 0 || http_opts.port > 65535) fail("'server.port' must be between 0 and 65535");
  http_opts.threads = static_cast<size_t>(config.get_int("server.threads", 0));
  http_opts.max_concurrent = so.max_concurrent;
  http_opts.max_body_bytes = parse_size("server.max_body_bytes", config.get_string("server.max_body_bytes", "16MiB"));
  http_opts.api_keys = split_list(config.get_string("server.api_keys", ""));
  http_opts.rate_limit_per_minute = config.get_double("server.rate_limit_per_minute", 0);

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
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log::warn("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    http.stop();
  });
  std::thread warmer;
  if (warmup) {
    // In the background, so /health answers at once; /ready turns 200 when done.
    warmer = std::thread([&registry, warm] {
      try {
        registry.warm_up(warm);
      } catch (const Error& e) {
        log::error("warm-up failed: {}", e.what());
      }
    });
  }
  std::atomic<bool> stopping{false};
  std::thread sweeper([&] {
    // Unloads models idle past their keep-alive, every 5 s.
    while (!stopping) {
      for (int i = 0; i < 50 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!stopping) registry.sweep();
    }
  });
  fmt::print("ragd serve: listening on http://{}:{} (models: {}; store: {})\n", http_opts.host, port,
             fmt::join(warm, ", "), db);
  std::fflush(stdout);
  http.run();
  // run() returned: a signal arrived (the watcher is done) or the listener failed.
  stopping = true;
  http.stop();
  pthread_kill(watcher.native_handle(), SIGTERM);  // no-op if the watcher already returned
  watcher.join();
  sweeper.join();
  if (warmer.joinable()) warmer.join();
  if (!opts.embedding_cache_file.empty()) {
    try {
      embedding_cache->save(opts.embedding_cache_file);
      log::info("saved {} cached embeddings to {}", embedding_cache->size(), opts.embedding_cache_file);
    } catch (const Error& e) {
      log::error("embedding cache not saved: {}", e.what());
    }
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
      "  ragd serve --model models/SmolLM2-135M-Instruct.Q4_1.gguf --db data --warmup\n"
      "  curl http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\\n"
      "    -d '{\"model\":\"SmolLM2-135M-Instruct.Q4_1\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}'");
  sub->add_option("--config", cmd->config_file, "YAML settings file")->check(CLI::ExistingFile);
  sub->add_option("-m,--model", cmd->models,
                  "Language model: FILE or NAME=FILE (repeatable; the first is the default). Default: the "
                  "default model in $RAGD_MODEL_DIR or ./models")
      ->type_name("[NAME=]FILE");
  sub->add_option("--embedder", cmd->embedders,
                  "Embedding model: FILE or NAME=FILE (repeatable). Default: all-MiniLM-L6-v2 in the model dir")
      ->type_name("[NAME=]FILE");
  sub->add_option("--api-key", cmd->api_keys, "Require this API key (repeatable; none: no authentication)")
      ->type_name("KEY");
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
