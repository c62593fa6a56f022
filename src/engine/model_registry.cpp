// ModelRegistry (see model_registry.h).
//
// Bookkeeping. Each entry owns at most one LoadedModel (`model`). A caller never gets that
// shared_ptr itself: acquire() hands out a fresh shared_ptr whose deleter keeps a reference
// to the model and, when the caller drops it, records the release in the entry's Usage
// (an atomic count of live handles and the time of the last release). The registry can
// therefore tell "in use" (live handles > 0) from "idle since t" exactly, without polling
// use_count(), and a model the registry has already dropped (eviction, destruction) stays
// alive until its last handle goes.
//
// Locking. `mu` guards the entries. Loads run outside it (an entry in state Loading makes
// later acquirers of the same model wait on `cv`); models chosen for unloading are moved
// out of their entries under the lock and destroyed after it is released, because tearing
// down a Scheduler joins its thread.
#include "engine/model_registry.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <unordered_set>

#include "engine/model_store.h"
#include "model/kv_cache.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Live handles of one loaded model and when the last one went. Shared with the handles'
// deleters, so it outlives the registry if a handle does.
struct Usage {
  std::atomic<int64_t> handles{0};
  std::atomic<int64_t> last_release_ns{0};  // Clock ticks since its epoch, in ns
};

int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
Clock::time_point from_ns(int64_t ns) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

// Identity of a model file across spellings of its path ("models/x.gguf", "./models/x.gguf").
// Symbolic links are not followed: a link in the model directory is a model of its own name.
std::string path_key(const std::string& path) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

}  // namespace

const char* model_kind_name(ModelKind kind) {
  return kind == ModelKind::Llm ? "llm" : "embedding";
}

struct ModelRegistry::Impl {
  enum class State { Unloaded, Loading, Loaded };

  struct Entry {
    ModelSpec spec;
    State state = State::Unloaded;
    std::shared_ptr<LoadedModel> model;   // set when Loaded
    std::shared_ptr<Usage> usage;         // set when Loaded (fresh per load)
    uint64_t uses = 0;                    // acquires since registration (LFU)
    Clock::time_point last_used{};        // last acquire or load (LRU)
    uint64_t load_attempt = 0;            // bumped when a load finishes, either way
    std::string load_error;               // of the last finished load, empty on success
    std::string quantization;             // known after the first load
    size_t file_bytes = 0;                // at registration
    bool installed = false;               // found in options.model_dir, not add()ed
  };

  explicit Impl(RegistryOptions o) : options(std::move(o)) {}

  RegistryOptions options;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Entry>> entries;  // registration order
  std::unordered_set<std::string> seen_paths;   // path_key of every file added or discovered

  // An installed model whose file was removed is hidden, unless it is still in memory.
  static bool visible(const Entry& e) {
    std::error_code ec;
    return !e.installed || e.state != State::Unloaded || std::filesystem::exists(e.spec.path, ec);
  }
  Entry* find_visible(const std::string& name) const {
    for (const auto& e : entries) {
      if (e->spec.name == name) return visible(*e) ? e.get() : nullptr;
    }
    return nullptr;
  }
  // Looks in model_dir too when the name is not registered yet. Called with mu held.
  Entry* find(const std::string& name) {
    if (Entry* e = find_visible(name)) return e;
    discover();
    return find_visible(name);
  }
  Entry& require(const std::string& name) {
    if (Entry* e = find(name)) return *e;
    std::string names;
    for (const auto& e : entries) {
      if (visible(*e)) names += (names.empty() ? "" : ", ") + e->spec.name;
    }
    fail("unknown model '{}' (available: {})", name, names.empty() ? "none" : names);
  }

  // Registers the GGUF files of options.model_dir not seen before. Runs with mu held: it
  // opens only new files' headers (a few ms each), once per file for the registry's life.
  void discover() {
    if (options.model_dir.empty()) return;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(options.model_dir, ec), end; !ec && it != end; it.increment(ec)) {
      const auto& p = it->path();
      std::error_code file_ec;
      if (p.extension() != ".gguf" || !it->is_regular_file(file_ec)) continue;
      if (!seen_paths.insert(path_key(p.string())).second) continue;
      InstalledModel m = describe_model_file(p.string());
      if (!m.error.empty()) {
        log::warn("model registry: skipping {}: {}", m.path, m.error);
        continue;
      }
      // A name already taken by an added model keeps meaning that model.
      if (std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e->spec.name == m.name; })) continue;
      auto e = std::make_unique<Entry>();
      e->spec = {.name = m.name,
                 .path = m.path,
                 .kind = m.is_embedder() ? ModelKind::Embedder : ModelKind::Llm,
                 .keep_alive_seconds = options.installed_keep_alive_seconds,
                 .pinned = false};
      e->file_bytes = static_cast<size_t>(m.bytes);
      e->quantization = m.quantization;
      e->installed = true;
      entries.push_back(std::move(e));
    }
  }

  static bool idle(const Entry& e) {
    return e.state == State::Loaded && e.usage->handles.load() == 0;
  }
  static Clock::time_point last_activity(const Entry& e) {
    return std::max(e.last_used, from_ns(e.usage->last_release_ns.load()));
  }

  // Estimated bytes of a model before it is loaded: its file (the mapping is paged in as
  // the weights are read) plus, for an LLM, the KV pool the scheduler will allocate.
  size_t estimate_bytes(const Entry& e) const {
    if (!e.spec.upstreams.empty()) return 0;
    size_t bytes = e.file_bytes;
    if (e.spec.kind == ModelKind::Llm) bytes += options.scheduler.max_kv_cache_bytes;
    return bytes;
  }

  // Moves the entry's model out (to be destroyed by the caller outside the lock).
  std::shared_ptr<LoadedModel> take_model(Entry& e) {
    e.state = State::Unloaded;
    e.usage.reset();
    return std::move(e.model);
  }

  // Picks idle, unpinned models to unload so that `incoming` (about to load, counted in
  // neither figure yet) fits under max_instances and the memory budget. Called with mu held.
  void evict_for(const Entry& incoming, std::vector<std::shared_ptr<LoadedModel>>& victims) {
    auto resident = [&] {
      size_t count = 0, bytes = 0;
      for (const auto& e : entries) {
        // Upstream models hold no weights: they take neither a slot nor memory.
        if (e.get() == &incoming || e->state == State::Unloaded || !e->spec.upstreams.empty()) continue;
        ++count;
        bytes += e->state == State::Loaded ? e->model->memory_bytes : estimate_bytes(*e);
      }
      return std::pair{count, bytes};
    };
    const size_t need = estimate_bytes(incoming);
    for (;;) {
      auto [count, bytes] = resident();
      const bool over_count = count + 1 > options.max_instances;
      const bool over_bytes =
          options.memory_budget_bytes > 0 && bytes + need > options.memory_budget_bytes;
      if (!over_count && !over_bytes) return;
      Entry* victim = nullptr;
      for (const auto& e : entries) {
        if (e.get() == &incoming || e->spec.pinned || !idle(*e)) continue;
        if (!victim || better_victim(*e, *victim)) victim = e.get();
      }
      if (!victim) {
        log::warn("model registry: loading '{}' exceeds the {} ({} models, {} MiB resident); "
                  "nothing idle to unload",
                  incoming.spec.name, over_count ? "instance limit" : "memory budget", count,
                  bytes >> 20);
        return;
      }
      log::info("model registry: unloading '{}' ({}) to make room for '{}'", victim->spec.name,
                options.policy == EvictionPolicy::Lru ? "least recently used"
                                                      : "least frequently used",
                incoming.spec.name);
      victims.push_back(take_model(*victim));
    }
  }

  bool better_victim(const Entry& a, const Entry& b) const {
    if (options.policy == EvictionPolicy::Lfu && a.uses != b.uses) return a.uses < b.uses;
    return last_activity(a) < last_activity(b);
  }

  // Builds the model. Runs without the lock; throws ragd::Error.
  std::unique_ptr<LoadedModel> load(const ModelSpec& spec) const {
    auto m = std::make_unique<LoadedModel>();
    m->spec = spec;
    const auto start = Clock::now();
    if (!spec.upstreams.empty()) {
      m->upstream = std::make_unique<UpstreamModel>(spec.name, spec.upstreams, options.upstream);
    } else if (spec.kind == ModelKind::Llm) {
      m->llm = Llm::load(spec.path, options.threads);
      if (!spec.draft_path.empty()) m->draft = DraftModel::load(spec.draft_path, *m->llm);
      SchedulerOptions so = options.scheduler;
      so.prompt_lookup = spec.prompt_lookup;
      m->scheduler = std::make_unique<Scheduler>(*m->llm, so, m->draft ? m->draft->model.get() : nullptr);
      const auto& cfg = m->llm->model->config();
      const auto blocks = m->scheduler->stats().blocks;
      size_t per_block = model::KvCache::bytes_per_block(cfg.n_layer, cfg.kv_dim(), options.scheduler.block_tokens,
                                                         options.scheduler.kv_type);
      m->memory_bytes = m->llm->file->file_size();
      if (m->draft) {
        const auto& d = m->draft->model->config();
        per_block += model::KvCache::bytes_per_block(d.n_layer, d.kv_dim(), options.scheduler.block_tokens,
                                                     options.scheduler.kv_type);
        m->memory_bytes += m->draft->file->file_size();
      }
      m->memory_bytes += blocks.total * per_block;
    } else {
      EmbeddingServiceOptions eo = options.embedding;
      if (eo.threads == 0) eo.threads = options.threads;
      m->embedder = EmbeddingService::open(spec.path, eo);
      // The cache holds at most cache_capacity vectors of dim floats (plus small keys).
      m->memory_bytes = static_cast<size_t>(std::filesystem::file_size(spec.path)) +
                        m->embedder->cache().capacity() * m->embedder->dim() * sizeof(float);
    }
    m->load_seconds = seconds_between(start, Clock::now());
    return m;
  }

  std::string quantization_of(const LoadedModel& m) const {
    if (m.upstream) return "upstream";
    if (m.llm) return quantization_name(*m.llm->file);
    // EmbeddingService does not expose its GgufFile; a second mapping of the same file
    // costs no memory (the pages are shared) and only parses the header.
    return quantization_name(*model::GgufFile::open(m.spec.path));
  }

  std::shared_ptr<LoadedModel> acquire(const std::string& name, std::optional<ModelKind> kind);
};

std::shared_ptr<LoadedModel> ModelRegistry::Impl::acquire(const std::string& name,
                                                          std::optional<ModelKind> kind) {
  std::unique_lock lock(mu);
  Entry& e = require(name);
  if (kind && e.spec.kind != *kind) {
    fail("model '{}' is an {} model, not an {} model", name, model_kind_name(e.spec.kind),
         model_kind_name(*kind));
  }
  for (;;) {
    if (e.state == State::Loaded) {
      ++e.uses;
      e.last_used = Clock::now();
      e.usage->handles.fetch_add(1);
      // The handle shares ownership of the model and reports its release to `usage`.
      return std::shared_ptr<LoadedModel>(
          e.model.get(), [keep = e.model, usage = e.usage](LoadedModel*) {
            usage->last_release_ns.store(to_ns(Clock::now()));
            usage->handles.fetch_sub(1);
          });
    }
    if (e.state == State::Loading) {
      const uint64_t attempt = e.load_attempt;
      cv.wait(lock, [&] { return e.load_attempt != attempt; });
      if (e.state != State::Loaded && !e.load_error.empty()) {
        throw Error(e.load_error);
      }
      continue;
    }
    // Unloaded: this caller loads it; everyone else who asks meanwhile waits.
    e.state = State::Loading;
    std::vector<std::shared_ptr<LoadedModel>> victims;
    if (e.spec.upstreams.empty()) evict_for(e, victims);
    const ModelSpec spec = e.spec;
    const bool need_quantization = e.quantization.empty();
    lock.unlock();
    victims.clear();  // unload outside the lock (joins scheduler threads)

    std::unique_ptr<LoadedModel> loaded;
    std::string error, quantization;
    try {
      loaded = load(spec);
      if (need_quantization) quantization = quantization_of(*loaded);
    } catch (const std::exception& ex) {
      error = fmt::format("cannot load model '{}' from {}: {}", spec.name, spec.path, ex.what());
    }

    lock.lock();
    ++e.load_attempt;
    e.load_error = error;
    if (!loaded) {
      e.state = State::Unloaded;
      cv.notify_all();
      throw Error(error);
    }
    log::info("model registry: loaded '{}' ({}) in {:.2f} s, ~{} MiB", spec.name,
              model_kind_name(spec.kind), loaded->load_seconds, loaded->memory_bytes >> 20);
    loaded->spec = e.spec;  // pin() may have changed it meanwhile
    if (!quantization.empty()) e.quantization = quantization;
    e.model = std::move(loaded);
    e.usage = std::make_shared<Usage>();
    e.usage->last_release_ns.store(to_ns(Clock::now()));
    e.last_used = Clock::now();
    e.state = State::Loaded;
    cv.notify_all();
    // Loop: take the handle through the Loaded branch like every other caller.
  }
}

ModelRegistry::ModelRegistry(RegistryOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  if (impl_->options.max_instances == 0) fail("model registry: max_instances must be at least 1");
}

ModelRegistry::~ModelRegistry() {
  // Models are destroyed here unless a handle still holds them (then with the last handle).
  // A load in progress in another thread would touch a dead registry: callers must not
  // destroy the registry while acquire() runs.
  std::vector<std::shared_ptr<LoadedModel>> models;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& e : impl_->entries) {
      if (e->state == Impl::State::Loaded) models.push_back(impl_->take_model(*e));
    }
  }
}

void ModelRegistry::add(ModelSpec spec) {
  if (spec.name.empty()) fail("a model needs a name");
  if (!spec.upstreams.empty()) {
    if (spec.kind != ModelKind::Llm) fail("model '{}': only language models can be served by an upstream", spec.name);
    std::lock_guard lock(impl_->mu);
    for (const auto& e : impl_->entries) {
      if (e->spec.name != spec.name) continue;
      if (e->spec.upstreams.empty() || e->state != Impl::State::Unloaded) fail("model '{}' is registered twice", spec.name);
      for (auto& u : spec.upstreams) e->spec.upstreams.push_back(std::move(u));  // balanced together
      return;
    }
    // Pinned with no keep-alive: unloading would only drop the servers' health state.
    spec.pinned = true;
    spec.keep_alive_seconds = 0;
    auto e = std::make_unique<Impl::Entry>();
    e->spec = std::move(spec);
    impl_->entries.push_back(std::move(e));
    return;
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(spec.path, ec);
  if (ec || !std::filesystem::is_regular_file(spec.path)) {
    fail("model '{}': file {} not found{}", spec.name, spec.path,
         ec ? fmt::format(" ({})", ec.message()) : "");
  }
  std::lock_guard lock(impl_->mu);
  for (const auto& e : impl_->entries) {
    if (e->spec.name == spec.name) fail("model '{}' is registered twice", spec.name);
  }
  impl_->seen_paths.insert(path_key(spec.path));
  auto e = std::make_unique<Impl::Entry>();
  e->spec = std::move(spec);
  e->file_bytes = static_cast<size_t>(size);
  impl_->entries.push_back(std::move(e));
}

const std::string& ModelRegistry::model_dir() const { return impl_->options.model_dir; }

bool ModelRegistry::contains(const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  return impl_->find(name) != nullptr;
}

std::vector<ModelStatus> ModelRegistry::status() const {
  std::lock_guard lock(impl_->mu);
  impl_->discover();
  const auto now = Clock::now();
  std::vector<ModelStatus> out;
  for (const auto& e : impl_->entries) {
    if (!Impl::visible(*e)) continue;
    ModelStatus s;
    s.spec = e->spec;
    s.uses = e->uses;
    s.quantization = e->quantization;
    if (e->state == Impl::State::Loaded) {
      s.loaded = true;
      s.load_seconds = e->model->load_seconds;
      s.memory_bytes = e->model->memory_bytes;
      if (e->model->upstream) s.upstreams = e->model->upstream->status();
      if (e->usage->handles.load() == 0) {
        s.idle_seconds = seconds_between(Impl::last_activity(*e), now);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<std::string> ModelRegistry::default_model(ModelKind kind) const {
  std::lock_guard lock(impl_->mu);
  for (const auto& e : impl_->entries) {
    if (e->spec.kind == kind && !e->installed) return e->spec.name;
  }
  return std::nullopt;
}

std::shared_ptr<LoadedModel> ModelRegistry::acquire(const std::string& name, ModelKind kind) {
  return impl_->acquire(name, kind);
}

void ModelRegistry::warm_up(const std::vector<std::string>& names) {
  for (const auto& name : names) impl_->acquire(name, std::nullopt);
}

void ModelRegistry::pin(const std::string& name, bool pinned) {
  std::lock_guard lock(impl_->mu);
  auto& e = impl_->require(name);
  // A loaded model's own spec copy is left as it was: handles may be reading it.
  e.spec.pinned = pinned;
}

void ModelRegistry::set_keep_alive(const std::string& name, double seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->require(name).spec.keep_alive_seconds = seconds;
}

bool ModelRegistry::unload(const std::string& name) {
  std::shared_ptr<LoadedModel> victim;
  {
    std::lock_guard lock(impl_->mu);
    auto& e = impl_->require(name);
    if (!Impl::idle(e)) return false;
    victim = impl_->take_model(e);
  }
  log::info("model registry: unloaded '{}'", name);
  return true;  // `victim` is destroyed here, outside the lock
}

void ModelRegistry::sweep() {
  std::vector<std::shared_ptr<LoadedModel>> victims;
  {
    std::lock_guard lock(impl_->mu);
    const auto now = Clock::now();
    for (auto& e : impl_->entries) {
      if (e->spec.pinned || e->spec.keep_alive_seconds <= 0 || !Impl::idle(*e)) continue;
      if (seconds_between(Impl::last_activity(*e), now) > e->spec.keep_alive_seconds) {
        log::info("model registry: unloading '{}' (idle longer than {} s)", e->spec.name,
                  e->spec.keep_alive_seconds);
        victims.push_back(impl_->take_model(*e));
      }
    }
  }
}

}  // namespace ragd::engine
