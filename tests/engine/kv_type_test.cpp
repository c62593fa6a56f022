// An f16 KV cache against the f32 one on the real default model, both fed the same tokens
// (the f32 run's greedy picks). Rounding a key or value to f16 is a relative error of
// 2^-11 per element. With float activations (reference mode) that moves the logits by
// ~0.04 % of their range. The fast path then rounds every activation row to 8 bits, which
// turns any small perturbation into rounding flips: ~3.5 % on this prompt, the same order
// as fast-vs-reference itself (FastVsReference), so it gets that test's bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/llm.h"
#include "engine/sampler.h"

namespace ragd::engine {
namespace {

struct GreedyRun {
  std::vector<int32_t> tokens;               // greedy picks
  std::vector<std::vector<float>> logits;    // per step
};

// Decodes `steps` tokens after the prompt: greedy picks, or `forced` tokens when given (so
// two runs see the same inputs and their logits are comparable at every step).
GreedyRun greedy(Llm& llm, const std::vector<int32_t>& prompt, size_t steps, kernels::KvType type,
                 const std::vector<int32_t>* forced = nullptr) {
  auto& m = *llm.model;
  std::vector<uint32_t> table((prompt.size() + steps) / 16 + 1);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<uint32_t>(i);
  auto cache = m.make_cache(16, table.size(), type);
  GreedyRun r;
  std::vector<int32_t> next = prompt;
  size_t pos = 0;
  for (size_t step = 0; step < steps; ++step) {
    model::SequenceBatch b{next, pos, table, false};
    std::vector<float> logits;
    m.forward({&b, 1}, *cache, logits);
    pos += next.size();
    r.logits.push_back(logits);
    r.tokens.push_back(argmax(logits));
    next = {forced ? (*forced)[step] : r.tokens.back()};
  }
  return r;
}

// Largest |a - b| over every step's logits, as a fraction of a's logit range at that step;
// `same` counts the steps whose argmax agrees.
double worst_difference(const GreedyRun& a, const GreedyRun& b, size_t* same) {
  double worst = 0.0;
  *same = 0;
  for (size_t step = 0; step < a.logits.size(); ++step) {
    const auto& x = a.logits[step];
    const auto& y = b.logits[step];
    auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    double diff = 0.0;
    for (size_t i = 0; i < x.size(); ++i) diff = std::max<double>(diff, std::fabs(x[i] - y[i]));
    worst = std::max(worst, diff / (*hi - *lo));
    *same += a.tokens[step] == b.tokens[step];
  }
  return worst;
}

class KvType : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = std::string(RAGD_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "default model not fetched (make models)";
    llm_ = Llm::load(path, 2);
    prompt_ = llm_->tokenizer->encode(
        "<|im_start|>user\nWhy is the sky blue? Answer in two sentences.<|im_end|>\n"
        "<|im_start|>assistant\n",
        true, true);
  }
  std::unique_ptr<Llm> llm_;
  std::vector<int32_t> prompt_;
};

TEST_F(KvType, F16RoundingMovesReferenceLogitsByAFractionOfAPercent) {
  llm_->model->set_reference_mode(true);  // float activations: only the KV rounding differs
  const GreedyRun f32 = greedy(*llm_, prompt_, 4, kernels::KvType::F32);
  const GreedyRun f16 = greedy(*llm_, prompt_, 4, kernels::KvType::F16, &f32.tokens);
  size_t same = 0;
  const double worst = worst_difference(f32, f16, &same);
  std::printf("reference mode: max |f16 - f32| = %.5f of the logit range\n", worst);
  EXPECT_LT(worst, 0.005);
  EXPECT_EQ(same, f32.tokens.size());
}

TEST_F(KvType, F16CacheOnTheFastPathStaysWithinActivationRounding) {
  const GreedyRun f32 = greedy(*llm_, prompt_, 24, kernels::KvType::F32);
  const GreedyRun f16 = greedy(*llm_, prompt_, 24, kernels::KvType::F16, &f32.tokens);
  size_t same = 0;
  const double worst = worst_difference(f32, f16, &same);
  std::printf("fast path: max |f16 - f32| = %.4f of the logit range, %zu/%zu same argmax\n",
              worst, same, f32.tokens.size());
  EXPECT_LT(worst, 0.05);
}

}  // namespace
}  // namespace ragd::engine
