// Model memory estimates from a GGUF header, the choice of a quantization variant under a
// budget, and the installed variants `ragd serve --max-memory` may switch to. Models are
// tiny synthetic ones (model/synth_model.h) with stories260K's vocabulary.
#include "engine/model_memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/model_registry.h"
#include "engine/model_variants.h"
#include "model/quantize_model.h"
#include "model/synth_model.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

namespace fs = std::filesystem;

const std::string kVocab = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("ragd-memory-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

model::QuantTarget target(std::string_view name) {
  auto t = model::parse_quant_target(name);
  if (!t) throw std::runtime_error("bad target");
  return *t;
}

// A 2-layer SmolLM2-shaped model (576 wide, 9 heads, 3 KV heads, 1536 FFN, 512 tokens).
std::string synth(const std::string& path, std::string_view type, uint32_t layers = 2) {
  model::SynthOptions o;
  o.arch = "smollm2-135m";
  o.target = target(type);
  o.vocab_path = kVocab;
  o.layers = layers;
  o.threads = 1;
  model::synth_model(path, o);
  return path;
}

SchedulerOptions small_serving() {
  SchedulerOptions o;
  o.ctx_size = 256;
  o.max_kv_cache_bytes = 1u << 20;
  o.block_tokens = 16;
  o.max_batch_tokens = 64;
  o.max_batch_size = 4;
  o.kv_type = kernels::KvType::F16;
  return o;
}

class ModelMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kVocab)) GTEST_SKIP() << kVocab << " missing";
  }
};

TEST_F(ModelMemoryTest, EstimateFromTheHeader) {
  TempDir dir;
  auto f = model::GgufFile::open(synth(dir.file("m.gguf"), "q8_0"));
  const SchedulerOptions o = small_serving();
  const MemoryEstimate m = estimate_model_memory(*f, o);
  EXPECT_EQ(m.weights_bytes, fs::file_size(dir.file("m.gguf")));
  // KV: 2 (k, v) x 2 layers x kv_dim 192 x 16 tokens x 2 bytes = 24 KiB a block; 1 MiB holds
  // 42 blocks, more than the 16 of one 256-token sequence.
  const uint64_t block = 2 * 2 * 192 * 16 * 2;
  EXPECT_EQ(m.kv_cache_bytes, (uint64_t{1} << 20) / block * block);
  // Scratch for 64 tokens (x, h, q, attn 576 each; k, v 192; gate, up 1536; rope 64) and 4
  // logits rows of 512.
  EXPECT_EQ(m.compute_bytes, (64 * (4 * 576 + 2 * 192 + 2 * 1536 + 64) + 4 * 512) * 4u);
  EXPECT_EQ(m.total(), m.weights_bytes + m.kv_cache_bytes + m.compute_bytes);

  // A long context needs at least one whole sequence of blocks, whatever the pool budget.
  SchedulerOptions long_ctx = o;
  long_ctx.ctx_size = 8192;
  EXPECT_EQ(estimate_model_memory(*f, long_ctx).kv_cache_bytes, 8192 / 16 * block);
  // f32 KV doubles it.
  SchedulerOptions f32 = long_ctx;
  f32.kv_type = kernels::KvType::F32;
  EXPECT_EQ(estimate_model_memory(*f, f32).kv_cache_bytes, 2 * 8192 / 16 * block);
  EXPECT_NE(m.describe().find("KV cache"), std::string::npos) << m.describe();
}

TEST_F(ModelMemoryTest, EstimateMatchesWhatTheRegistryLoads) {
  TempDir dir;
  const std::string path = synth(dir.file("m.gguf"), "q8_0");
  RegistryOptions ro;
  ro.threads = 1;
  ro.scheduler = small_serving();
  ro.scheduler.ctx_size = 1024;  // the one-sequence minimum decides here
  auto f = model::GgufFile::open(path);
  const MemoryEstimate m = estimate_model_memory(*f, ro.scheduler);
  ModelRegistry registry(ro);
  registry.add({"m", path, ModelKind::Llm, 300, false});
  auto loaded = registry.acquire("m", ModelKind::Llm);
  // The registry counts the mapped file and the KV pool it allocated.
  EXPECT_EQ(loaded->memory_bytes, m.weights_bytes + m.kv_cache_bytes);
}

TEST_F(ModelMemoryTest, RequantizedEstimateMatchesTheWrittenFile) {
  TempDir dir;
  const std::string src = synth(dir.file("m.gguf"), "q8_0");
  auto f = model::GgufFile::open(src);
  const SchedulerOptions o = small_serving();
  for (const char* type : {"q4_0", "q4_k_m", "q5_1", "q6_k"}) {
    const auto t = target(type);
    const MemoryEstimate e = estimate_model_memory(*f, o, &t);
    model::QuantizeOptions qo;
    qo.target = t;
    qo.threads = 1;
    const std::string out = dir.file(std::string(type) + ".gguf");
    model::quantize_model(src, out, qo);
    const auto written = static_cast<int64_t>(fs::file_size(out));
    // Only the metadata can differ (general.file_type's value, quantization_version), and
    // the data section's start is aligned to 32 bytes.
    EXPECT_NEAR(static_cast<double>(e.weights_bytes), static_cast<double>(written), 64) << type;
    EXPECT_EQ(e.kv_cache_bytes, estimate_model_memory(*f, o).kv_cache_bytes) << type;
    EXPECT_LT(e.weights_bytes, f->file_size()) << type;
  }
}

TEST_F(ModelMemoryTest, UnsupportedArchitectureIsAnError) {
  const std::string vocab_only = std::string(RAGD_SHARED_DIR) + "/data/tokenizer/ggml-vocab-gpt-2.gguf";
  if (!fs::exists(vocab_only)) GTEST_SKIP() << vocab_only << " missing";
  auto f = model::GgufFile::open(vocab_only);
  EXPECT_THROW(estimate_model_memory(*f, small_serving()), Error);
}

TEST(ModelVariants, QualityOrderAndNames) {
  EXPECT_LT(quant_quality_rank("F16"), quant_quality_rank("q8_0"));
  EXPECT_EQ(quant_quality_rank("f16"), quant_quality_rank("bf16"));
  EXPECT_LT(quant_quality_rank("q8_0"), quant_quality_rank("Q4_K_M"));
  EXPECT_LT(quant_quality_rank("q4_k_m"), quant_quality_rank("q4_k_s"));
  EXPECT_LT(quant_quality_rank("q4_k_s"), quant_quality_rank("q4_1"));  // not by size
  EXPECT_LT(quant_quality_rank("q4_1"), quant_quality_rank("q4_0"));
  EXPECT_LT(quant_quality_rank("q4_0"), quant_quality_rank("q2_k"));
  EXPECT_LT(quant_quality_rank("q2_k"), quant_quality_rank("mystery"));

  EXPECT_EQ(variant_stem("Qwen2.5-Coder-1.5B-Instruct.Q4_K_M"), "Qwen2.5-Coder-1.5B-Instruct");
  EXPECT_EQ(variant_stem("SmolLM2-135M-Instruct.Q4_1"), "SmolLM2-135M-Instruct");
  EXPECT_EQ(variant_stem("model.IQ4_XS"), "model");
  EXPECT_EQ(variant_stem("Qwen2.5-Coder"), "Qwen2.5-Coder");  // ".5-Coder" is no quantization
  EXPECT_EQ(variant_stem("all-MiniLM-L6-v2.F32"), "all-MiniLM-L6-v2");
  EXPECT_EQ(variant_name("Qwen2.5-Coder-1.5B-Instruct", "q4_0"), "Qwen2.5-Coder-1.5B-Instruct.Q4_0");

  std::vector<std::string> below;
  for (const auto& t : requant_targets_below("Q4_K_M")) below.push_back(t.name);
  EXPECT_EQ(below, (std::vector<std::string>{"q5_0", "q4_k_s", "q4_1", "q4_0"}));
  EXPECT_TRUE(requant_targets_below("q4_0").empty());
  EXPECT_EQ(requant_targets_below("f16").size(), 9u);
}

VariantCandidate candidate(std::string quant, uint64_t bytes, bool requantized = false) {
  VariantCandidate c;
  c.name = "m." + quant;
  c.quantization = quant;
  c.requantized = requantized;
  c.memory.weights_bytes = bytes;
  c.memory.kv_cache_bytes = 100;
  return c;
}

TEST(ModelVariants, ChoosesTheBestQualityThatFits) {
  const std::vector<VariantCandidate> cs = {candidate("q8_0", 1000), candidate("q4_k_m", 600),
                                            candidate("q4_k_s", 560, true), candidate("q4_1", 620, true),
                                            candidate("q4_0", 520, true)};
  auto pick = [&](uint64_t budget) {
    const auto* c = choose_variant(cs, budget);
    return c ? c->quantization : std::string("none");
  };
  EXPECT_EQ(pick(5000), "q8_0");
  EXPECT_EQ(pick(1100), "q8_0");   // total = weights + KV 100
  EXPECT_EQ(pick(1099), "q4_k_m");
  EXPECT_EQ(pick(700), "q4_k_m");
  EXPECT_EQ(pick(699), "q4_k_s");  // q4_1 (720) is larger and worse: never preferred
  EXPECT_EQ(pick(659), "q4_0");
  EXPECT_EQ(pick(619), "none");
  EXPECT_EQ(smallest_variant(cs)->quantization, "q4_0");
  EXPECT_EQ(choose_variant(std::span<const VariantCandidate>{}, 1u << 30), nullptr);
}

TEST(ModelVariants, PinnedFileBeatsARequantizedOneOfTheSameType) {
  const std::vector<VariantCandidate> cs = {candidate("q4_0", 500, true), candidate("q4_0", 510)};
  const auto* c = choose_variant(cs, 1000);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->requantized);
}

TEST_F(ModelMemoryTest, ServeSwitchesToAnInstalledVariantThatFits) {
  TempDir dir;
  const std::string big = synth(dir.file("Tiny-Chat.Q8_0.gguf"), "q8_0");
  const std::string small = synth(dir.file("Tiny-Chat.Q4_0.gguf"), "q4_0");
  synth(dir.file("Tiny-Chat-Wide.Q4_0.gguf"), "q4_0");       // another stem
  synth(dir.file("Tiny-Chat.Q4_1.gguf"), "q4_1", 1);          // another shape: not a variant
  const SchedulerOptions o = small_serving();
  const auto big_est = estimate_model_memory(*model::GgufFile::open(big), o);
  const auto small_est = estimate_model_memory(*model::GgufFile::open(small), o);
  ASSERT_LT(small_est.total(), big_est.total());

  std::vector<std::string> paths;
  const auto variants = installed_variants(big, dir.path.string(), o, &paths);
  ASSERT_EQ(variants.size(), 2u);
  EXPECT_EQ(variants[0].name, "Tiny-Chat.Q8_0");
  EXPECT_EQ(variants[1].name, "Tiny-Chat.Q4_0");
  EXPECT_EQ(variants[1].quantization, "q4_0");
  EXPECT_EQ(paths[1], small);

  // Fits: served as asked.
  auto fit = fit_to_budget(big, dir.path.string(), big_est.total(), "budget", 0, o);
  EXPECT_FALSE(fit.substituted);
  EXPECT_EQ(fit.path, big);
  // Does not fit, the Q4_0 does: switched.
  fit = fit_to_budget(big, dir.path.string(), big_est.total() - 1, "budget", 0, o);
  EXPECT_TRUE(fit.substituted);
  EXPECT_EQ(fit.path, small);
  EXPECT_EQ(fit.name, "Tiny-Chat.Q4_0");
  // Memory reserved for the embedder counts.
  fit = fit_to_budget(big, dir.path.string(), big_est.total(), "budget", 1, o);
  EXPECT_TRUE(fit.substituted);
  // Nothing fits: refused with the figures.
  try {
    fit_to_budget(big, dir.path.string(), small_est.total() - 1, "1.0 MiB (--max-memory 1M)", 0, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("does not fit the memory budget of 1.0 MiB (--max-memory 1M)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Tiny-Chat.Q4_0 needs " + small_est.describe()), std::string::npos) << msg;
    EXPECT_NE(msg.find("ragd pull Tiny-Chat --max-memory"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace ragd::engine
