// ModelRegistry: the models a server offers, by name, loaded lazily and shared.
//
// Each entry is a GGUF file registered under a name with a kind (LLM or embedder). Nothing
// is loaded at registration: the first acquire() maps the file (one mmap shared by every
// user) and builds the model — for an LLM also its Scheduler — so startup stays small.
// Entries listed in `warmup` are loaded by warm_up() at start.
//
// Eviction keeps at most max_instances loaded models and their estimated memory under
// memory_budget_bytes: when a load would exceed either, the registry unloads idle,
// unpinned models, least recently used first (policy LRU) or least frequently used first
// (LFU). A model idle for longer than its keep_alive is unloaded by sweep(). A model in use
// (a handle is alive) is never unloaded; if nothing can be evicted the load still proceeds
// and the overshoot is logged (refusing would fail a request the machine can serve).
//
// Installed models: with RegistryOptions::model_dir set, every GGUF file in that directory
// is offered too, under its file's stem (see engine/model_store.h), so a model installed by
// `ragd pull` while the server runs is usable by name at once. Such files are registered on
// demand (a name not found, or status()) and only files not seen before are opened; one
// whose file has since been removed is hidden again unless it is loaded. They are never the
// defaults: default_model() answers only models added explicitly.
//
// Upstream models: a ModelSpec with `upstreams` (and no path) is a language model served by
// other OpenAI-compatible servers (engine/upstream_model.h). Adding it again under the same
// name adds its servers to the ones it balances over. It has no weights to load: the
// UpstreamModel (its connections and health checks) is created when the model is first
// acquired or warmed up, stays loaded (pinned, never swept) and counts towards neither
// max_instances nor the memory budget.
//
// Thread-safe. Loading happens outside the registry lock, so one slow load does not block
// requests for models already loaded; concurrent first uses of one model wait for a single
// load.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/embedding_service.h"
#include "engine/llm.h"
#include "engine/scheduler.h"
#include "engine/speculative_draft.h"
#include "engine/upstream_endpoint.h"
#include "engine/upstream_model.h"

namespace ragd::engine {

enum class ModelKind { Llm, Embedder };
const char* model_kind_name(ModelKind kind);  // "llm", "embedding"

enum class EvictionPolicy { Lru, Lfu };

struct ModelSpec {
  std::string name;        // API name, e.g. "smollm2-135m"
  std::string path;        // GGUF file (empty for an upstream model)
  ModelKind kind = ModelKind::Llm;
  double keep_alive_seconds = 300;  // idle time before sweep() unloads it; <= 0: never
  bool pinned = false;     // never evicted
  std::vector<UpstreamEndpoint> upstreams = {};  // non-empty: served by these servers (kind Llm)
  std::string draft_path = {};  // kind Llm, local: speculative decoding with this draft model
                                // (engine/speculative_draft.h), loaded with the model
  bool prompt_lookup = false;   // kind Llm, local: speculative decoding by prompt lookup instead
                                // (engine/speculative_lookup.h)
};

struct RegistryOptions {
  size_t max_instances = 4;
  size_t memory_budget_bytes = 0;   // 0: no budget
  EvictionPolicy policy = EvictionPolicy::Lru;
  size_t threads = 0;               // compute threads per model; 0: all cores
  SchedulerOptions scheduler;       // for every LLM
  EmbeddingServiceOptions embedding;  // for every embedder
  std::string model_dir;            // installed models offered by name; empty: none
  double installed_keep_alive_seconds = 300;  // keep_alive of those models
  UpstreamOptions upstream;         // for every upstream model
};

// A loaded model. Holding the shared_ptr keeps it loaded.
struct LoadedModel {
  ModelSpec spec;
  std::unique_ptr<Llm> llm;                   // kind == Llm
  std::unique_ptr<DraftModel> draft;          // spec.draft_path set; outlives the scheduler
  std::unique_ptr<Scheduler> scheduler;       // kind == Llm, local
  std::unique_ptr<UpstreamModel> upstream;    // kind == Llm, spec.upstreams not empty
  std::shared_ptr<EmbeddingService> embedder; // kind == Embedder
  double load_seconds = 0;
  size_t memory_bytes = 0;  // mapped weights + KV pool / caches (estimate)
};

struct ModelStatus {
  ModelSpec spec;
  bool loaded = false;
  double load_seconds = 0;
  size_t memory_bytes = 0;
  uint64_t uses = 0;
  double idle_seconds = 0;  // since last release
  std::string quantization;  // weight type of the file, e.g. "q4_1" (known once loaded); "upstream"
  std::vector<UpstreamEndpointStatus> upstreams;  // an upstream model's servers, once loaded
};

class ModelRegistry {
 public:
  explicit ModelRegistry(RegistryOptions options);
  ~ModelRegistry();

  // Throws ragd::Error for a duplicate name or a missing file. An upstream model's spec
  // under a name already holding an upstream model adds its servers to it (before the
  // model is first loaded; afterwards it is refused as a duplicate).
  void add(ModelSpec spec);
  bool contains(const std::string& name) const;
  std::vector<ModelStatus> status() const;
  // The first LLM / embedder added (the defaults when a request names none).
  std::optional<std::string> default_model(ModelKind kind) const;
  // RegistryOptions::model_dir (fixed at construction): where a model installed while the
  // server runs must go to be offered; empty when the registry offers no installed models.
  const std::string& model_dir() const;

  // Loads on first use. Throws ragd::Error for an unknown name, a kind mismatch, or a file
  // that fails to load.
  std::shared_ptr<LoadedModel> acquire(const std::string& name, ModelKind kind);

  void warm_up(const std::vector<std::string>& names);
  void pin(const std::string& name, bool pinned);
  // Sets the idle time before sweep() unloads the model (<= 0: never), as pin() does for
  // pinning: Ollama's per-request keep_alive.
  void set_keep_alive(const std::string& name, double seconds);
  // Unloads now if idle; returns false when it is in use (it is unloaded when released
  // only by a later sweep/eviction) or not loaded.
  bool unload(const std::string& name);
  // Unloads models idle longer than their keep_alive. Cheap; call periodically.
  void sweep();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::engine
