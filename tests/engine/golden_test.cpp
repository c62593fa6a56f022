// Reproduces llama.cpp's greedy continuations of stories260K (a real, tiny llama model):
// the same prompt ids, the same 48 greedy ids, and top-5 log-probabilities within a
// tolerance (see kLogprobTolerance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/generator.h"
#include "engine/llm.h"
#include "log_softmax.h"

namespace ragd::engine {
namespace {

const std::string kModel = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";
const std::string kGolden = std::string(RAGD_SHARED_DIR) + "/golden/stories260K-greedy.json";

// Where we differ from llama.cpp: it rounds q, k, v and the attention weights to f16 (its
// KV cache is f16), we keep f32. Measured worst top-5 difference over the six prompts:
// 0.0137; emulating those f16 roundings in our forward pass halves it (0.0074), so what is
// left is rounding and summation order. 0.02 covers that and still fails on any real
// error (a wrong rope, norm, mask or head mapping moves log-probabilities by > 0.1).
constexpr double kLogprobTolerance = 0.02;

using golden::log_softmax;

class Stories260K : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModel) || !std::filesystem::exists(kGolden)) {
      GTEST_SKIP() << "reference data not found (" << kModel << "); it lives in ../shared";
    }
    llm_ = Llm::load(kModel, 2);
    std::ifstream in(kGolden);
    golden_ = nlohmann::json::parse(in);
  }
  std::unique_ptr<Llm> llm_;
  nlohmann::json golden_;
};

TEST_F(Stories260K, PromptTokensMatchLlamaCpp) {
  for (const auto& c : golden_["cases"]) {
    auto ids = llm_->tokenizer->encode(c["prompt"].get<std::string>(), true, false);
    EXPECT_EQ(ids, c["prompt_tokens_with_bos"].get<std::vector<int32_t>>()) << c["prompt"];
  }
}

TEST_F(Stories260K, GreedyTokensAndLogprobsMatchLlamaCpp) {
  Generator gen(*llm_->model, *llm_->tokenizer, 256);
  double worst = 0.0;
  for (const auto& c : golden_["cases"]) {
    gen.reset();
    auto prompt = c["prompt_tokens_with_bos"].get<std::vector<int32_t>>();
    auto expected = c["greedy_tokens"].get<std::vector<int32_t>>();
    auto logits = gen.evaluate(prompt);
    for (size_t step = 0; step < expected.size(); ++step) {
      auto lp = log_softmax(logits);
      const int32_t id = argmax(logits);
      ASSERT_EQ(id, expected[step]) << c["prompt"] << " step " << step;
      for (const auto& top : c["steps"][step]["top"]) {
        const int32_t tid = top[0].get<int32_t>();
        const double diff = std::fabs(lp[tid] - top[1].get<double>());
        worst = std::max(worst, diff);
        EXPECT_LE(diff, kLogprobTolerance) << c["prompt"] << " step " << step << " token " << tid;
      }
      logits = gen.evaluate({&id, 1});
    }
  }
  RecordProperty("worst_logprob_diff", std::to_string(worst));
  std::printf("worst top-5 logprob difference vs llama.cpp: %.5f\n", worst);
}

TEST_F(Stories260K, GenerateTextMatchesGreedyText) {
  Generator gen(*llm_->model, *llm_->tokenizer, 256);
  const auto& c = golden_["cases"][0];
  GenerationOptions o;
  o.max_tokens = c["greedy_tokens"].size();
  o.sampling.temperature = 0.0f;
  o.ignore_eos = true;
  auto prompt = c["prompt_tokens_with_bos"].get<std::vector<int32_t>>();
  auto r = gen.generate(prompt, o);
  EXPECT_EQ(r.tokens, c["greedy_tokens"].get<std::vector<int32_t>>());
  EXPECT_EQ(r.text, c["greedy_text"].get<std::string>());
}

TEST_F(Stories260K, BatchedForwardMatchesOneSequenceAtATime) {
  // Three sequences of different lengths in one forward pass must give the same logits
  // as each run alone: the batch shares weights, never keys/values.
  auto& m = *llm_->model;
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& c : golden_["cases"]) prompts.push_back(c["prompt_tokens_with_bos"]);
  prompts.resize(3);
  const size_t bt = 16, per_seq = 4;
  auto cache = m.make_cache(bt, prompts.size() * per_seq);
  std::vector<std::vector<uint32_t>> tables(prompts.size());
  std::vector<model::SequenceBatch> batch;
  for (size_t s = 0; s < prompts.size(); ++s) {
    for (size_t b = 0; b < per_seq; ++b) tables[s].push_back(static_cast<uint32_t>(s * per_seq + b));
    batch.push_back({prompts[s], 0, tables[s], false});
  }
  std::vector<float> batched;
  m.forward(batch, *cache, batched);
  const size_t V = m.config().n_vocab;
  for (size_t s = 0; s < prompts.size(); ++s) {
    auto solo_cache = m.make_cache(bt, per_seq);
    std::vector<uint32_t> table{0, 1, 2, 3};
    model::SequenceBatch one{prompts[s], 0, table, false};
    std::vector<float> solo;
    m.forward({&one, 1}, *solo_cache, solo);
    for (size_t i = 0; i < V; ++i) ASSERT_NEAR(batched[s * V + i], solo[i], 1e-4) << s;
  }
}

}  // namespace
}  // namespace ragd::engine
