// ModelRegistry with small real models: MiniLM (embedder, registered under several names
// so that eviction can be observed) and stories260K (a tiny llama, for the LLM path).
#include "engine/model_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "util/error.h"

namespace ragd::engine {
namespace {

const std::string kEmbedder = std::string(RAGD_SOURCE_DIR) + "/models/all-MiniLM-L6-v2.F32.gguf";
const std::string kLlm = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

RegistryOptions small_options(size_t max_instances = 4) {
  RegistryOptions o;
  o.max_instances = max_instances;
  o.threads = 1;
  o.scheduler.max_kv_cache_bytes = 4u << 20;
  o.scheduler.ctx_size = 256;
  o.embedding.cache_capacity = 100;
  return o;
}

ModelSpec embedder(std::string name, double keep_alive = 300) {
  return ModelSpec{std::move(name), kEmbedder, ModelKind::Embedder, keep_alive, false};
}

ModelStatus status_of(const ModelRegistry& r, const std::string& name) {
  for (auto& s : r.status()) {
    if (s.spec.name == name) return s;
  }
  ADD_FAILURE() << "no model " << name;
  return {};
}
bool loaded(const ModelRegistry& r, const std::string& name) { return status_of(r, name).loaded; }

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kEmbedder)) GTEST_SKIP() << kEmbedder << " missing";
  }
  // Acquire and release at once (the model stays loaded, idle).
  static void touch(ModelRegistry& r, const std::string& name) {
    r.acquire(name, ModelKind::Embedder);
  }
};

TEST_F(ModelRegistryTest, NothingLoadsUntilTheFirstAcquire) {
  ModelRegistry r(small_options());
  r.add(embedder("minilm"));
  EXPECT_TRUE(r.contains("minilm"));
  auto s = status_of(r, "minilm");
  EXPECT_FALSE(s.loaded);
  EXPECT_EQ(s.memory_bytes, 0u);
  EXPECT_EQ(s.quantization, "");
  EXPECT_EQ(r.default_model(ModelKind::Embedder), "minilm");
  EXPECT_EQ(r.default_model(ModelKind::Llm), std::nullopt);

  auto m = r.acquire("minilm", ModelKind::Embedder);
  ASSERT_TRUE(m && m->embedder);
  EXPECT_EQ(m->embedder->dim(), 384u);
  EXPECT_EQ(m->embedder->embed(std::string_view("hello")).size(), 384u);
  s = status_of(r, "minilm");
  EXPECT_TRUE(s.loaded);
  EXPECT_EQ(s.uses, 1u);
  EXPECT_EQ(s.quantization, "f32");
  EXPECT_GE(s.memory_bytes, std::filesystem::file_size(kEmbedder));
  EXPECT_GE(s.load_seconds, 0);
}

TEST_F(ModelRegistryTest, AcquiresShareOneModel) {
  ModelRegistry r(small_options());
  r.add(embedder("minilm"));
  auto a = r.acquire("minilm", ModelKind::Embedder);
  auto b = r.acquire("minilm", ModelKind::Embedder);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a->embedder.get(), b->embedder.get());
  EXPECT_EQ(status_of(r, "minilm").uses, 2u);
}

TEST_F(ModelRegistryTest, ClearErrors) {
  ModelRegistry r(small_options());
  r.add(embedder("minilm"));
  EXPECT_THROW(r.add(embedder("minilm")), Error);  // duplicate name
  EXPECT_THROW(r.add(ModelSpec{"ghost", "/nonexistent/model.gguf", ModelKind::Llm}), Error);
  EXPECT_FALSE(r.contains("ghost"));
  EXPECT_THROW(r.acquire("nobody", ModelKind::Embedder), Error);
  EXPECT_THROW(r.acquire("minilm", ModelKind::Llm), Error);  // wrong kind
  EXPECT_THROW(r.pin("nobody", true), Error);
  EXPECT_THROW(r.unload("nobody"), Error);
  EXPECT_FALSE(loaded(r, "minilm"));  // a refused acquire loads nothing

  // A file that exists but is no GGUF: add() accepts it, every acquire fails cleanly.
  const auto bad = std::filesystem::temp_directory_path() / "ragd_registry_bad.gguf";
  { std::ofstream(bad) << "not a model"; }
  r.add(ModelSpec{"bad", bad.string(), ModelKind::Embedder});
  EXPECT_THROW(r.acquire("bad", ModelKind::Embedder), Error);
  EXPECT_THROW(r.acquire("bad", ModelKind::Embedder), Error);  // not stuck "loading"
  EXPECT_FALSE(loaded(r, "bad"));
  std::filesystem::remove(bad);
}

TEST_F(ModelRegistryTest, LruEvictsTheLeastRecentlyUsed) {
  ModelRegistry r(small_options(2));
  for (auto n : {"a", "b", "c"}) r.add(embedder(n));
  touch(r, "a");
  touch(r, "b");
  touch(r, "a");  // b is now the least recently used
  touch(r, "c");
  EXPECT_TRUE(loaded(r, "a"));
  EXPECT_FALSE(loaded(r, "b"));
  EXPECT_TRUE(loaded(r, "c"));
}

TEST_F(ModelRegistryTest, LruAndLfuPickDifferentVictims) {
  // a: used 3 times, long ago; b: used once, just now. LRU drops a, LFU drops b.
  for (auto policy : {EvictionPolicy::Lru, EvictionPolicy::Lfu}) {
    auto o = small_options(2);
    o.policy = policy;
    ModelRegistry r(o);
    for (auto n : {"a", "b", "c"}) r.add(embedder(n));
    touch(r, "a");
    touch(r, "a");
    touch(r, "a");
    touch(r, "b");
    touch(r, "c");
    const bool lru = policy == EvictionPolicy::Lru;
    EXPECT_EQ(loaded(r, "a"), !lru);
    EXPECT_EQ(loaded(r, "b"), lru);
    EXPECT_TRUE(loaded(r, "c"));
  }
}

TEST_F(ModelRegistryTest, ModelsInUseAreNeverEvicted) {
  ModelRegistry r(small_options(1));
  for (auto n : {"a", "b", "c"}) r.add(embedder(n));
  auto a = r.acquire("a", ModelKind::Embedder);
  auto b = r.acquire("b", ModelKind::Embedder);  // over the limit, but a is busy: both stay
  EXPECT_TRUE(loaded(r, "a"));
  EXPECT_TRUE(loaded(r, "b"));
  EXPECT_EQ(a->embedder->embed(std::string_view("still works")).size(), 384u);
  a.reset();
  auto c = r.acquire("c", ModelKind::Embedder);  // a is idle now and goes; b is still held
  EXPECT_FALSE(loaded(r, "a"));
  EXPECT_TRUE(loaded(r, "b"));
  EXPECT_TRUE(loaded(r, "c"));
}

TEST_F(ModelRegistryTest, MemoryBudgetEvictsToo) {
  auto o = small_options(10);
  ModelRegistry probe(o);
  probe.add(embedder("x"));
  const size_t one = probe.acquire("x", ModelKind::Embedder)->memory_bytes;
  o.memory_budget_bytes = one + one / 2;  // room for one model, not two
  ModelRegistry r(o);
  for (auto n : {"a", "b"}) r.add(embedder(n));
  touch(r, "a");
  touch(r, "b");
  EXPECT_FALSE(loaded(r, "a"));
  EXPECT_TRUE(loaded(r, "b"));
}

TEST_F(ModelRegistryTest, PinnedModelsStay) {
  ModelRegistry r(small_options(1));
  for (auto n : {"a", "b", "c"}) r.add(embedder(n));
  r.pin("a", true);
  touch(r, "a");
  touch(r, "b");
  EXPECT_TRUE(loaded(r, "a"));  // pinned: the limit is overshot instead
  EXPECT_TRUE(loaded(r, "b"));
  EXPECT_TRUE(status_of(r, "a").spec.pinned);
  r.pin("a", false);
  touch(r, "c");
  EXPECT_FALSE(loaded(r, "a"));
  EXPECT_FALSE(loaded(r, "b"));
  EXPECT_TRUE(loaded(r, "c"));
}

TEST_F(ModelRegistryTest, UnloadOnlyWhenIdle) {
  ModelRegistry r(small_options());
  r.add(embedder("a"));
  EXPECT_FALSE(r.unload("a"));  // not loaded
  auto h = r.acquire("a", ModelKind::Embedder);
  EXPECT_FALSE(r.unload("a"));  // in use
  EXPECT_TRUE(loaded(r, "a"));
  h.reset();
  EXPECT_TRUE(r.unload("a"));
  EXPECT_FALSE(loaded(r, "a"));
  auto again = r.acquire("a", ModelKind::Embedder);  // loads again on demand
  EXPECT_TRUE(loaded(r, "a"));
  EXPECT_EQ(status_of(r, "a").uses, 2u);
}

TEST_F(ModelRegistryTest, SweepUnloadsModelsIdleLongerThanKeepAlive) {
  ModelRegistry r(small_options(10));  // room for all five: only sweep() unloads here
  r.add(embedder("short", 0.001));
  r.add(embedder("long", 3600));
  r.add(embedder("forever", 0));
  r.add(embedder("busy", 0.001));
  r.add(embedder("pinned", 0.001));
  r.pin("pinned", true);
  r.warm_up({"short", "long", "forever", "pinned"});
  auto busy = r.acquire("busy", ModelKind::Embedder);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // > every short keep_alive
  EXPECT_GT(status_of(r, "short").idle_seconds, 0.001);
  r.sweep();
  EXPECT_FALSE(loaded(r, "short"));
  EXPECT_TRUE(loaded(r, "long"));
  EXPECT_TRUE(loaded(r, "forever"));
  EXPECT_TRUE(loaded(r, "busy"));  // held: never idle
  EXPECT_TRUE(loaded(r, "pinned"));
  busy.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  r.sweep();
  EXPECT_FALSE(loaded(r, "busy"));
}

TEST_F(ModelRegistryTest, ConcurrentFirstUseLoadsOnce) {
  ModelRegistry r(small_options());
  r.add(embedder("a"));
  constexpr int kThreads = 8;
  std::vector<std::shared_ptr<LoadedModel>> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { got[i] = r.acquire("a", ModelKind::Embedder); });
  }
  for (auto& t : threads) t.join();
  // All handles are alive together, so equal pointers mean a single LoadedModel was built.
  for (int i = 1; i < kThreads; ++i) EXPECT_EQ(got[i].get(), got[0].get());
  EXPECT_EQ(status_of(r, "a").uses, uint64_t{kThreads});
}

TEST_F(ModelRegistryTest, AHandleOutlivesTheRegistry) {
  std::shared_ptr<LoadedModel> h;
  {
    ModelRegistry r(small_options());
    r.add(embedder("a"));
    h = r.acquire("a", ModelKind::Embedder);
  }
  EXPECT_EQ(h->embedder->embed(std::string_view("after the registry")).size(), 384u);
}

TEST(ModelRegistryLlm, LoadsTheModelAndItsScheduler) {
  if (!std::filesystem::exists(kLlm)) GTEST_SKIP() << kLlm << " missing";
  ModelRegistry r(small_options());
  r.add(ModelSpec{"stories", kLlm, ModelKind::Llm});
  EXPECT_EQ(r.default_model(ModelKind::Llm), "stories");
  EXPECT_FALSE(loaded(r, "stories"));
  EXPECT_THROW(r.acquire("stories", ModelKind::Embedder), Error);

  auto m = r.acquire("stories", ModelKind::Llm);
  ASSERT_TRUE(m->llm && m->scheduler);
  EXPECT_FALSE(m->embedder);
  auto s = status_of(r, "stories");
  EXPECT_TRUE(s.loaded);
  EXPECT_EQ(s.quantization, "f32");
  // Weights plus a KV pool of (at most) the configured bytes.
  EXPECT_GT(s.memory_bytes, std::filesystem::file_size(kLlm));
  EXPECT_LE(s.memory_bytes, std::filesystem::file_size(kLlm) + (4u << 20));

  GenerationRequest req;
  req.prompt = m->llm->tokenizer->encode("Once upon a time", true, false);
  req.options.max_tokens = 8;
  req.options.ignore_eos = true;
  req.options.sampling.temperature = 0;
  auto admission = m->scheduler->submit(std::move(req));
  ASSERT_EQ(admission.status, AdmitStatus::Accepted) << admission.message;
  const std::string text = admission.stream->wait_all();
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(admission.stream->summary().completion_tokens, 8u);

  m.reset();
  EXPECT_TRUE(r.unload("stories"));  // joins the scheduler thread
  EXPECT_FALSE(loaded(r, "stories"));
}

}  // namespace
}  // namespace ragd::engine
