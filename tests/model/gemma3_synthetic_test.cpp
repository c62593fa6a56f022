// Gemma 3's forward pass on a tiny random-weight file, against a plain double-precision
// transcription of the architecture written here from its definition (Google's
// gemma_pytorch / llama.cpp's graph): scaled embeddings, pre- and post-norms, per-head q/k
// norms, NeoX RoPE with a local base on sliding-window layers and linear scaling on global
// ones, grouped-query attention scaled by 1/sqrt(query_pre_attn_scalar), a sliding window,
// a GELU(tanh)-gated FFN and final-logit soft-capping. The shapes are chosen so that every
// switch matters: 3 layers (pattern 3: two local, one global), a window of 5 over 13
// positions with KV blocks of 4 (windows start inside blocks), 2 query heads per KV head.
// The real model's check against llama.cpp is tests/engine/gemma3_golden_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/thread_pool.h"
#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/llama_model.h"

namespace ragd::model {
namespace {

constexpr size_t kEmbd = 16, kHead = 4, kHeadKv = 2, kHeadDim = 8, kFf = 24, kVocab = 40;
constexpr size_t kLayers = 3, kWindow = 5, kPattern = 3;
constexpr float kEps = 1e-6f, kBase = 1e6f, kBaseSwa = 1e4f, kRopeFactor = 2.0f, kSoftcap = 3.0f;

using Mat = std::vector<float>;  // row-major [rows][cols]: GGUF dims {cols, rows}

struct Weights {
  Mat embd;  // [vocab][embd], tied output
  Mat out_norm;
  struct Layer {
    Mat attn_norm, wq, wk, wv, wo, q_norm, k_norm, post_attn, ffn_norm, gate, up, down, post_ffn;
  };
  std::vector<Layer> layers;
};

Mat random(std::mt19937& rng, size_t n, float mean, float stddev) {
  std::normal_distribution<float> d(mean, stddev);
  Mat m(n);
  for (auto& v : m) v = d(rng);
  return m;
}

Weights make_weights() {
  std::mt19937 rng(1234);
  Weights w;
  w.embd = random(rng, kVocab * kEmbd, 0.0f, 0.5f);
  w.out_norm = random(rng, kEmbd, 1.0f, 0.2f);
  for (size_t l = 0; l < kLayers; ++l) {
    Weights::Layer L;
    L.attn_norm = random(rng, kEmbd, 1.0f, 0.2f);
    L.wq = random(rng, kHead * kHeadDim * kEmbd, 0.0f, 0.3f);
    L.wk = random(rng, kHeadKv * kHeadDim * kEmbd, 0.0f, 0.3f);
    L.wv = random(rng, kHeadKv * kHeadDim * kEmbd, 0.0f, 0.3f);
    L.wo = random(rng, kEmbd * kHead * kHeadDim, 0.0f, 0.3f);
    L.q_norm = random(rng, kHeadDim, 1.0f, 0.3f);
    L.k_norm = random(rng, kHeadDim, 1.0f, 0.3f);
    L.post_attn = random(rng, kEmbd, 1.0f, 0.2f);
    L.ffn_norm = random(rng, kEmbd, 1.0f, 0.2f);
    L.gate = random(rng, kFf * kEmbd, 0.0f, 0.3f);
    L.up = random(rng, kFf * kEmbd, 0.0f, 0.3f);
    L.down = random(rng, kEmbd * kFf, 0.0f, 0.3f);
    L.post_ffn = random(rng, kEmbd, 1.0f, 0.2f);
    w.layers.push_back(std::move(L));
  }
  return w;
}

std::vector<uint8_t> write_gguf(const Weights& w) {
  GgufWriter g;
  g.set_string("general.architecture", "gemma3");
  g.set_u32("gemma3.context_length", 64);
  g.set_u32("gemma3.embedding_length", kEmbd);
  g.set_u32("gemma3.block_count", kLayers);
  g.set_u32("gemma3.feed_forward_length", kFf);
  g.set_u32("gemma3.attention.head_count", kHead);
  g.set_u32("gemma3.attention.head_count_kv", kHeadKv);
  g.set_u32("gemma3.attention.key_length", kHeadDim);
  g.set_u32("gemma3.attention.value_length", kHeadDim);
  g.set_f32("gemma3.attention.layer_norm_rms_epsilon", kEps);
  g.set_f32("gemma3.rope.freq_base", kBase);
  g.set_string("gemma3.rope.scaling.type", "linear");
  g.set_f32("gemma3.rope.scaling.factor", kRopeFactor);
  g.set_u32("gemma3.attention.sliding_window", kWindow);
  g.set_u32("gemma3.attention.sliding_window_pattern", kPattern);
  g.set_f32("gemma3.final_logit_softcapping", kSoftcap);
  const auto add = [&](const std::string& name, const Mat& m, std::vector<uint64_t> dims) {
    g.add_tensor(name, kernels::TensorType::F32, std::move(dims),
                 {reinterpret_cast<const uint8_t*>(m.data()), m.size() * sizeof(float)});
  };
  add("token_embd.weight", w.embd, {kEmbd, kVocab});
  add("output_norm.weight", w.out_norm, {kEmbd});
  for (size_t l = 0; l < kLayers; ++l) {
    const auto& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", L.attn_norm, {kEmbd});
    add(p + "attn_q.weight", L.wq, {kEmbd, kHead * kHeadDim});
    add(p + "attn_k.weight", L.wk, {kEmbd, kHeadKv * kHeadDim});
    add(p + "attn_v.weight", L.wv, {kEmbd, kHeadKv * kHeadDim});
    add(p + "attn_output.weight", L.wo, {kHead * kHeadDim, kEmbd});
    add(p + "attn_q_norm.weight", L.q_norm, {kHeadDim});
    add(p + "attn_k_norm.weight", L.k_norm, {kHeadDim});
    add(p + "post_attention_norm.weight", L.post_attn, {kEmbd});
    add(p + "ffn_norm.weight", L.ffn_norm, {kEmbd});
    add(p + "ffn_gate.weight", L.gate, {kEmbd, kFf});
    add(p + "ffn_up.weight", L.up, {kEmbd, kFf});
    add(p + "ffn_down.weight", L.down, {kFf, kEmbd});
    add(p + "post_ffw_norm.weight", L.post_ffn, {kEmbd});
  }
  return g.to_bytes();
}

// ---- the reference, in double, one token at a time ----
using Vec = std::vector<double>;

Vec matvec(const Mat& m, const Vec& x, size_t rows) {
  Vec y(rows, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < x.size(); ++c) y[r] += m[r * x.size() + c] * x[c];
  }
  return y;
}

Vec rms_norm(const double* x, size_t n, const Mat& w) {
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const double inv = 1.0 / std::sqrt(ss / n + kEps);
  Vec y(n);
  for (size_t i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
  return y;
}

void rope_neox(double* v, size_t pos, double base, double scale) {
  const size_t half = kHeadDim / 2;
  for (size_t i = 0; i < half; ++i) {
    const double theta = pos * scale * std::pow(base, -2.0 * i / kHeadDim);
    const double a = v[i], b = v[i + half];
    v[i] = a * std::cos(theta) - b * std::sin(theta);
    v[i + half] = a * std::sin(theta) + b * std::cos(theta);
  }
}

double gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

// Logits of every position of `tokens`.
std::vector<Vec> reference(const Weights& w, const std::vector<int32_t>& tokens) {
  const size_t q_dim = kHead * kHeadDim, kv_dim = kHeadKv * kHeadDim;
  std::vector<std::vector<Vec>> keys(kLayers), values(kLayers);
  std::vector<Vec> logits;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    Vec x(kEmbd);
    const double embd_scale = std::sqrt(double(kEmbd));
    for (size_t i = 0; i < kEmbd; ++i) x[i] = w.embd[tokens[pos] * kEmbd + i] * embd_scale;
    for (size_t l = 0; l < kLayers; ++l) {
      const auto& L = w.layers[l];
      const bool swa = l % kPattern < kPattern - 1;
      Vec h = rms_norm(x.data(), kEmbd, L.attn_norm);
      Vec q = matvec(L.wq, h, q_dim), k = matvec(L.wk, h, kv_dim), v = matvec(L.wv, h, kv_dim);
      for (size_t hd = 0; hd < kHead; ++hd) {
        Vec n = rms_norm(&q[hd * kHeadDim], kHeadDim, L.q_norm);
        std::copy(n.begin(), n.end(), q.begin() + hd * kHeadDim);
        rope_neox(&q[hd * kHeadDim], pos, swa ? kBaseSwa : kBase, swa ? 1.0 : 1.0 / kRopeFactor);
      }
      for (size_t hd = 0; hd < kHeadKv; ++hd) {
        Vec n = rms_norm(&k[hd * kHeadDim], kHeadDim, L.k_norm);
        std::copy(n.begin(), n.end(), k.begin() + hd * kHeadDim);
        rope_neox(&k[hd * kHeadDim], pos, swa ? kBaseSwa : kBase, swa ? 1.0 : 1.0 / kRopeFactor);
      }
      keys[l].push_back(k);
      values[l].push_back(v);
      Vec attn(q_dim, 0.0);
      const size_t first = swa && pos + 1 > kWindow ? pos + 1 - kWindow : 0;
      for (size_t hd = 0; hd < kHead; ++hd) {
        const size_t kvh = hd / (kHead / kHeadKv);
        std::vector<double> s;
        for (size_t j = first; j <= pos; ++j) {
          double d = 0.0;
          for (size_t i = 0; i < kHeadDim; ++i) {
            d += q[hd * kHeadDim + i] * keys[l][j][kvh * kHeadDim + i];
          }
          s.push_back(d / std::sqrt(double(kHeadDim)));  // query_pre_attn_scalar = head_dim
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double z = 0.0;
        for (auto& e : s) z += (e = std::exp(e - mx));
        for (size_t j = first; j <= pos; ++j) {
          for (size_t i = 0; i < kHeadDim; ++i) {
            attn[hd * kHeadDim + i] += s[j - first] / z * values[l][j][kvh * kHeadDim + i];
          }
        }
      }
      Vec o = matvec(L.wo, attn, kEmbd);
      o = rms_norm(o.data(), kEmbd, L.post_attn);
      for (size_t i = 0; i < kEmbd; ++i) x[i] += o[i];
      h = rms_norm(x.data(), kEmbd, L.ffn_norm);
      Vec g = matvec(L.gate, h, kFf), u = matvec(L.up, h, kFf);
      for (size_t i = 0; i < kFf; ++i) g[i] = gelu_tanh(g[i]) * u[i];
      Vec d = matvec(L.down, g, kEmbd);
      d = rms_norm(d.data(), kEmbd, L.post_ffn);
      for (size_t i = 0; i < kEmbd; ++i) x[i] += d[i];
    }
    Vec out = rms_norm(x.data(), kEmbd, w.out_norm);
    Vec lg = matvec(w.embd, out, kVocab);
    for (auto& v : lg) v = kSoftcap * std::tanh(v / kSoftcap);
    logits.push_back(lg);
  }
  return logits;
}

class Gemma3Synthetic : public ::testing::TestWithParam<bool> {  // param: reference mode
 protected:
  void SetUp() override {
    weights_ = make_weights();
    bytes_ = write_gguf(weights_);
    model_ = std::make_unique<LlamaModel>(GgufFile::parse(bytes_, "gemma3-synthetic.gguf"), pool_);
    model_->set_reference_mode(GetParam());
    for (size_t i = 0; i < 13; ++i) tokens_.push_back(static_cast<int32_t>((7 * i + 3) % kVocab));
    expected_ = reference(weights_, tokens_);
  }
  void expect_row(const float* got, size_t pos) {
    for (size_t i = 0; i < kVocab; ++i) {
      ASSERT_NEAR(got[i], expected_[pos][i], 2e-4) << "position " << pos << " token " << i;
    }
  }
  kernels::ThreadPool pool_{2};
  Weights weights_;
  std::vector<uint8_t> bytes_;
  std::unique_ptr<LlamaModel> model_;
  std::vector<int32_t> tokens_;
  std::vector<Vec> expected_;
};

TEST_P(Gemma3Synthetic, ConfigReadsEverySwitch) {
  const auto& c = model_->config();
  EXPECT_EQ(c.rope_style, RopeStyle::Neox);
  EXPECT_EQ(c.ffn_act, FfnActivation::GeluTanh);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.post_norms);
  EXPECT_EQ(c.sliding_window, kWindow);
  EXPECT_EQ(c.swa_layers, (std::vector<bool>{true, true, false}));
  EXPECT_FLOAT_EQ(c.rope_scale, 1.0f / kRopeFactor);
  EXPECT_FLOAT_EQ(c.final_logit_softcap, kSoftcap);
}

TEST_P(Gemma3Synthetic, PrefillMatchesTheDefinition) {
  auto cache = model_->make_cache(4, 4);
  const std::vector<uint32_t> table{2, 0, 3, 1};  // out of order: blocks are looked up
  SequenceBatch seq{tokens_, 0, table, true};
  std::vector<float> logits;
  model_->forward({&seq, 1}, *cache, logits);
  ASSERT_EQ(logits.size(), tokens_.size() * kVocab);
  for (size_t pos = 0; pos < tokens_.size(); ++pos) expect_row(&logits[pos * kVocab], pos);
}

TEST_P(Gemma3Synthetic, TokenByTokenMatchesTheDefinition) {
  // Decode steps after a short prefill: the window slides over cached positions.
  auto cache = model_->make_cache(4, 4);
  const std::vector<uint32_t> table{0, 1, 2, 3};
  std::vector<float> logits;
  SequenceBatch first{std::span(tokens_).first(3), 0, table, false};
  model_->forward({&first, 1}, *cache, logits);
  expect_row(logits.data(), 2);
  for (size_t pos = 3; pos < tokens_.size(); ++pos) {
    SequenceBatch step{std::span(tokens_).subspan(pos, 1), pos, table, false};
    model_->forward({&step, 1}, *cache, logits);
    expect_row(logits.data(), pos);
  }
}

INSTANTIATE_TEST_SUITE_P(FastAndReference, Gemma3Synthetic, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Reference" : "Fast"; });

TEST(Gemma3Config, RefusesRopeScalingItDoesNotImplement) {
  Weights w = make_weights();
  GgufWriter g;
  const auto bytes = write_gguf(w);
  auto f = GgufFile::parse(bytes, "ok.gguf");
  g.copy_metadata(*f);
  g.set_string("gemma3.rope.scaling.type", "yarn");
  g.add_tensor("token_embd.weight", kernels::TensorType::F32, {kEmbd, kVocab},
               {reinterpret_cast<const uint8_t*>(w.embd.data()), w.embd.size() * sizeof(float)});
  const auto bad = g.to_bytes();
  try {
    LlamaConfig::from_gguf(*GgufFile::parse(bad, "yarn.gguf"));
    FAIL() << "yarn scaling accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("rope.scaling.type 'yarn'"), std::string::npos)
        << e.what();
  }
}

TEST(Gemma3Config, PerLayerPatternArray) {
  Weights w = make_weights();
  GgufWriter g;
  const auto bytes = write_gguf(w);
  auto f = GgufFile::parse(bytes, "ok.gguf");
  g.copy_metadata(*f);
  g.set_array("gemma3.attention.sliding_window_pattern",
              GgufArrayValue::bools({false, true, true}));
  g.add_tensor("token_embd.weight", kernels::TensorType::F32, {kEmbd, kVocab},
               {reinterpret_cast<const uint8_t*>(w.embd.data()), w.embd.size() * sizeof(float)});
  const auto with_array = g.to_bytes();
  const auto c = LlamaConfig::from_gguf(*GgufFile::parse(with_array, "array.gguf"));
  EXPECT_EQ(c.swa_layers, (std::vector<bool>{false, true, true}));
  g.set_array("gemma3.attention.sliding_window_pattern", GgufArrayValue::bools({true, true}));
  const auto short_array = g.to_bytes();
  EXPECT_THROW(LlamaConfig::from_gguf(*GgufFile::parse(short_array, "short.gguf")), std::exception);
}

TEST(Gemma3Config, ChatTemplateFallsBackToGemmaNotChatML) {
  const auto bytes = write_gguf(make_weights());
  EXPECT_EQ(chat_template_for(*GgufFile::parse(bytes, "no-template.gguf")), "gemma");
  GgufWriter g;
  g.copy_metadata(*GgufFile::parse(bytes, "ok.gguf"));
  g.set_string("tokenizer.chat_template", "{{ '<start_of_turn>' }}custom");
  const auto with_template = g.to_bytes();
  EXPECT_EQ(chat_template_for(*GgufFile::parse(with_template, "t.gguf")),
            "{{ '<start_of_turn>' }}custom");
  g.set_string("general.architecture", "llama");
  g.remove("tokenizer.chat_template");
  const auto llama = g.to_bytes();
  EXPECT_EQ(chat_template_for(*GgufFile::parse(llama, "llama.gguf")), "");
}

}  // namespace
}  // namespace ragd::model
