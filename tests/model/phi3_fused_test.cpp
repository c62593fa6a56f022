// Phi-3's file layout: q/k/v fused into blk.N.attn_qkv (rows q | k | v) and gate/up into
// blk.N.ffn_up (rows gate | up, 2 * n_ff rows), as llama.cpp's converter writes them. The
// model splits them into row views; a tiny random model written both ways (fused, and as
// the separate matrices llama-family files have) must give the same logits, with grouped
// KV heads so that the q and k/v parts differ in size. Also: LongRoPE files are refused by
// name, the sliding_window key is ignored (as llama.cpp does), and a file without a chat
// template gets Phi-3's turns. The check against llama.cpp is the phi-3-mini-4k case of
// tests/engine/synthetic_golden_test.cpp.
#include <gtest/gtest.h>

#include <random>

#include "kernels/thread_pool.h"
#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/llama_model.h"

namespace ragd::model {
namespace {

constexpr size_t kEmbd = 16, kHead = 4, kHeadKv = 2, kHeadDim = 4, kFf = 12, kVocab = 30;
constexpr size_t kLayers = 2;
constexpr size_t kQ = kHead * kHeadDim, kKv = kHeadKv * kHeadDim;

using Mat = std::vector<float>;

struct Layer {
  Mat norm1, wq, wk, wv, wo, norm2, gate, up, down;
};

Mat random(std::mt19937& rng, size_t n, float mean, float stddev) {
  std::normal_distribution<float> d(mean, stddev);
  Mat m(n);
  for (auto& v : m) v = d(rng);
  return m;
}

Mat concat(std::initializer_list<const Mat*> parts) {
  Mat out;
  for (const Mat* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

struct Phi3File {
  Mat embd, out_norm, output;
  std::vector<Layer> layers;
  Mat fused_qkv[kLayers], fused_up[kLayers];  // kept alive while a writer references them

  Phi3File() {
    std::mt19937 rng(99);
    embd = random(rng, kVocab * kEmbd, 0.0f, 0.5f);
    out_norm = random(rng, kEmbd, 1.0f, 0.2f);
    output = random(rng, kVocab * kEmbd, 0.0f, 0.5f);
    for (size_t l = 0; l < kLayers; ++l) {
      layers.push_back({random(rng, kEmbd, 1.0f, 0.2f), random(rng, kQ * kEmbd, 0.0f, 0.3f),
                        random(rng, kKv * kEmbd, 0.0f, 0.3f), random(rng, kKv * kEmbd, 0.0f, 0.3f),
                        random(rng, kEmbd * kQ, 0.0f, 0.3f), random(rng, kEmbd, 1.0f, 0.2f),
                        random(rng, kFf * kEmbd, 0.0f, 0.3f), random(rng, kFf * kEmbd, 0.0f, 0.3f),
                        random(rng, kEmbd * kFf, 0.0f, 0.3f)});
      fused_qkv[l] = concat({&layers[l].wq, &layers[l].wk, &layers[l].wv});
      fused_up[l] = concat({&layers[l].gate, &layers[l].up});
    }
  }

  // extra: called with the writer before it serialises (to add keys or tensors).
  std::vector<uint8_t> write(bool fused, const std::function<void(GgufWriter&)>& extra = {}) {
    GgufWriter g;
    g.set_string("general.architecture", "phi3");
    g.set_u32("phi3.context_length", 64);
    g.set_u32("phi3.embedding_length", kEmbd);
    g.set_u32("phi3.block_count", kLayers);
    g.set_u32("phi3.feed_forward_length", kFf);
    g.set_u32("phi3.attention.head_count", kHead);
    g.set_u32("phi3.attention.head_count_kv", kHeadKv);
    g.set_f32("phi3.attention.layer_norm_rms_epsilon", 1e-5f);
    g.set_u32("phi3.rope.dimension_count", kHeadDim);
    g.set_f32("phi3.rope.freq_base", 10000.0f);
    g.set_u32("phi3.rope.scaling.original_context_length", 64);
    g.set_u32("phi3.attention.sliding_window", 3);  // ignored: every layer is global
    const auto add = [&](const std::string& name, const Mat& m, std::vector<uint64_t> dims) {
      g.add_tensor(name, kernels::TensorType::F32, std::move(dims),
                   {reinterpret_cast<const uint8_t*>(m.data()), m.size() * sizeof(float)});
    };
    add("token_embd.weight", embd, {kEmbd, kVocab});
    add("output_norm.weight", out_norm, {kEmbd});
    add("output.weight", output, {kEmbd, kVocab});
    for (size_t l = 0; l < kLayers; ++l) {
      const Layer& L = layers[l];
      const std::string p = "blk." + std::to_string(l) + ".";
      add(p + "attn_norm.weight", L.norm1, {kEmbd});
      if (fused) {
        add(p + "attn_qkv.weight", fused_qkv[l], {kEmbd, kQ + 2 * kKv});
        add(p + "ffn_up.weight", fused_up[l], {kEmbd, 2 * kFf});
      } else {
        add(p + "attn_q.weight", L.wq, {kEmbd, kQ});
        add(p + "attn_k.weight", L.wk, {kEmbd, kKv});
        add(p + "attn_v.weight", L.wv, {kEmbd, kKv});
        add(p + "ffn_gate.weight", L.gate, {kEmbd, kFf});
        add(p + "ffn_up.weight", L.up, {kEmbd, kFf});
      }
      add(p + "attn_output.weight", L.wo, {kQ, kEmbd});
      add(p + "ffn_norm.weight", L.norm2, {kEmbd});
      add(p + "ffn_down.weight", L.down, {kFf, kEmbd});
    }
    if (extra) extra(g);
    return g.to_bytes();
  }
};

std::vector<float> all_logits(const std::vector<uint8_t>& bytes, bool reference) {
  kernels::ThreadPool pool(2);
  LlamaModel m(GgufFile::parse(bytes, "phi3.gguf"), pool);
  m.set_reference_mode(reference);
  std::vector<int32_t> tokens;
  for (size_t i = 0; i < 9; ++i) tokens.push_back(static_cast<int32_t>((5 * i + 1) % kVocab));
  auto cache = m.make_cache(4, 3);
  const std::vector<uint32_t> table{0, 1, 2};
  SequenceBatch seq{tokens, 0, table, true};
  std::vector<float> logits;
  m.forward({&seq, 1}, *cache, logits);
  return logits;
}

TEST(Phi3Fused, FusedMatricesGiveTheSeparateMatricesLogits) {
  Phi3File f;
  const auto fused = f.write(true), split = f.write(false);
  for (bool reference : {false, true}) {
    const auto a = all_logits(fused, reference), b = all_logits(split, reference);
    ASSERT_EQ(a.size(), 9 * kVocab);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << reference << " " << i;
  }
}

TEST(Phi3Fused, ConfigIsNeoxWithEveryLayerGlobal) {
  Phi3File f;
  const auto bytes = f.write(true);
  const auto c = LlamaConfig::from_gguf(*GgufFile::parse(bytes, "phi3.gguf"));
  EXPECT_EQ(c.arch, "phi3");
  EXPECT_EQ(c.rope_style, RopeStyle::Neox);
  EXPECT_FALSE(c.has_swa());
  EXPECT_FALSE(c.qk_norm);
}

TEST(Phi3Fused, LongRopeFilesAreRefusedByName) {
  Phi3File f;
  const Mat factors(kHeadDim / 2, 1.5f);
  const auto bytes = f.write(true, [&](GgufWriter& g) {
    g.add_tensor("rope_factors_long.weight", kernels::TensorType::F32, {kHeadDim / 2},
                 {reinterpret_cast<const uint8_t*>(factors.data()), factors.size() * sizeof(float)});
  });
  try {
    LlamaConfig::from_gguf(*GgufFile::parse(bytes, "phi3-128k.gguf"));
    FAIL() << "LongRoPE file accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("rope_factors_long.weight"), std::string::npos) << e.what();
  }
}

TEST(Phi3Fused, FileWithoutTemplateGetsPhi3Turns) {
  Phi3File f;
  const auto bytes = f.write(true);
  EXPECT_EQ(chat_template_for(*GgufFile::parse(bytes, "phi3.gguf")), "phi3");
  EXPECT_EQ(apply_chat_template("phi3", {{"user", "Hi"}}, true), "<|user|>\nHi<|end|>\n<|assistant|>\n");
}

}  // namespace
}  // namespace ragd::model
