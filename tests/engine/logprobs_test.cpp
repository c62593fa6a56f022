// Per-token log-probabilities (OpenAI logprobs / top_logprobs): token_logprobs() against a
// scalar reference (full log-softmax in long double, full sort), the sampler's contract
// (raw-model logprobs, draws unchanged by asking for them), and the generator and the
// scheduler reporting one entry per token of the text on stories260K.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "engine/generator.h"
#include "engine/llm.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

using namespace std::chrono_literals;
constexpr float kInf = std::numeric_limits<float>::infinity();

// The reference: every token's log-softmax with long-double log-sum-exp around the
// maximum, then a full sort by (logprob desc, id asc).
struct Reference {
  std::vector<long double> logprob;
  std::vector<int32_t> order;
};

Reference reference(const std::vector<float>& logits) {
  Reference r;
  long double max = -std::numeric_limits<long double>::infinity();
  for (float x : logits) max = std::max<long double>(max, x);
  long double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<long double>(x) - max);
  const long double lse = max + std::log(sum);
  for (float x : logits) r.logprob.push_back(static_cast<long double>(x) - lse);
  r.order.resize(logits.size());
  std::iota(r.order.begin(), r.order.end(), 0);
  std::stable_sort(r.order.begin(), r.order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  return r;
}

// A float logprob agrees with the reference to 1e-4 plus its own rounding (a float near
// -20000 is only good to ~0.001); -inf (a ruled-out token) must be -inf.
void expect_logprob(float got, long double want, const std::string& what) {
  if (std::isinf(want)) {
    EXPECT_TRUE(std::isinf(got) && got < 0) << what << ": " << got;
    return;
  }
  EXPECT_NEAR(got, static_cast<double>(want), 1e-4 + 2e-7 * std::fabs(static_cast<double>(want))) << what;
}

void expect_matches_reference(const std::vector<float>& logits, int32_t chosen, size_t k) {
  const Reference ref = reference(logits);
  const TokenLogprobs got = token_logprobs(logits, chosen, k);
  EXPECT_EQ(got.id, chosen);
  expect_logprob(got.logprob, ref.logprob[chosen], "chosen");
  const size_t want = std::min({k, kMaxTopLogprobs, logits.size()});
  ASSERT_EQ(got.top.size(), want);
  for (size_t i = 0; i < want; ++i) {
    EXPECT_EQ(got.top[i].id, ref.order[i]) << "rank " << i;
    expect_logprob(got.top[i].logprob, ref.logprob[ref.order[i]], "rank " + std::to_string(i));
    EXPECT_LE(got.top[i].logprob, 0.0f);
    if (i > 0) {
      EXPECT_GE(got.top[i - 1].logprob, got.top[i].logprob);
    }
  }
}

TEST(TokenLogprobs, MatchTheScalarReferenceOnRandomRows) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t n = 1 + rng() % 3000;
    const float scale = trial % 4 == 0 ? 0.01f : trial % 4 == 1 ? 5.0f : 30.0f;
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> logits(n);
    for (auto& x : logits) x = dist(rng);
    if (trial % 5 == 0) {  // some tokens ruled out, as a -inf logit does
      for (size_t i = 0; i < n; i += 7) logits[i] = -kInf;
      logits[n - 1] = 1.0f;
    }
    const int32_t chosen = static_cast<int32_t>(rng() % n);
    for (size_t k : {0, 1, 5, 20, 64}) expect_matches_reference(logits, chosen, k);
  }
}

TEST(TokenLogprobs, StableForHugeLogits) {
  // exp(10000) overflows any float type: only the shift by the maximum keeps this finite.
  std::vector<float> logits = {10000.0f, 9999.0f, 9990.0f, -10000.0f};
  const TokenLogprobs got = token_logprobs(logits, 1, 4);
  const double lse = 10000.0 + std::log(1.0 + std::exp(-1.0) + std::exp(-10.0));
  EXPECT_NEAR(got.logprob, 9999.0 - lse, 1e-4);
  EXPECT_NEAR(got.top[0].logprob, 10000.0 - lse, 1e-4);
  EXPECT_TRUE(std::isfinite(got.top[3].logprob));
  expect_matches_reference(logits, 3, 4);
}

TEST(TokenLogprobs, TiesRankTheLowerIdFirstLikeArgmax) {
  std::vector<float> logits = {1.0f, 3.0f, 3.0f, 0.5f, 3.0f};
  const TokenLogprobs got = token_logprobs(logits, 2, 3);
  ASSERT_EQ(got.top.size(), 3u);
  EXPECT_EQ(got.top[0].id, argmax(logits));
  EXPECT_EQ(got.top[0].id, 1);
  EXPECT_EQ(got.top[1].id, 2);
  EXPECT_EQ(got.top[2].id, 4);
  EXPECT_FLOAT_EQ(got.logprob, got.top[0].logprob);
  EXPECT_NEAR(got.logprob, std::log(1.0 / 3.0) - std::log1p((std::exp(-2.0) + std::exp(-2.5)) / 3.0), 1e-5);
}

TEST(TokenLogprobs, OneTokenIsCertainAndBadRowsAreRefused) {
  std::vector<float> one = {-3.0f};
  EXPECT_FLOAT_EQ(token_logprobs(one, 0, 20).logprob, 0.0f);
  EXPECT_EQ(token_logprobs(one, 0, 20).top.size(), 1u);
  std::vector<float> none = {-kInf, -kInf};
  EXPECT_THROW(token_logprobs(none, 0, 1), Error);
  std::vector<float> row = {1.0f, 2.0f};
  EXPECT_THROW(token_logprobs(row, 2, 1), Error);
  EXPECT_THROW(token_logprobs(row, -1, 1), Error);
}

std::vector<float> random_row(std::mt19937& rng, size_t n) {
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> row(n);
  for (auto& x : row) x = dist(rng);
  return row;
}

TEST(SamplerLogprobs, AskingForLogprobsDoesNotChangeTheDraws) {
  SamplingParams p;
  p.temperature = 0.9f;
  p.repeat_penalty = 1.3f;
  p.presence_penalty = 0.5f;
  p.seed = 11;
  Sampler plain(p), with(p);
  std::mt19937 rng(5);
  std::vector<int32_t> history = {1, 2, 3};
  for (int step = 0; step < 50; ++step) {
    auto row = random_row(rng, 500);
    auto a = row, b = row;
    TokenLogprobs lp;
    const int32_t x = plain.sample(a, history);
    const int32_t y = with.sample(b, history, 5, lp);
    ASSERT_EQ(x, y) << "step " << step;
    EXPECT_EQ(lp.id, y);
    // The logprob is of the row as the model gave it, before the penalties.
    EXPECT_NEAR(lp.logprob, static_cast<double>(reference(row).logprob[y]), 1e-4);
    history.push_back(y);
  }
}

TEST(SamplerLogprobs, GreedyTokenIsTheTopAlternativeWithItsLogprob) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  std::mt19937 rng(9);
  for (int step = 0; step < 20; ++step) {
    auto row = random_row(rng, 300);
    TokenLogprobs lp;
    const int32_t id = s.sample(row, {}, 3, lp);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_EQ(lp.top[0].id, id);
    EXPECT_FLOAT_EQ(lp.top[0].logprob, lp.logprob);
  }
}

TEST(SamplerLogprobs, LogitBiasChangesTheDrawNotTheReportedDistribution) {
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias[7] = 100.0f;  // forces token 7 under greedy decoding
  Sampler s(p);
  std::mt19937 rng(3);
  auto row = random_row(rng, 50);
  row[7] = -5.0f;  // unlikely for the model
  const auto ref = reference(row);
  TokenLogprobs lp;
  ASSERT_EQ(s.sample(row, {}, 2, lp), 7);
  EXPECT_NEAR(lp.logprob, static_cast<double>(ref.logprob[7]), 1e-4);
  EXPECT_EQ(lp.top[0].id, ref.order[0]);
  EXPECT_LT(lp.logprob, lp.top[0].logprob);
}

// --- on a real model ------------------------------------------------------------------

const std::string kModel = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

class ModelLogprobs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "model not found (" << kModel << ")";
    llm_ = Llm::load(kModel, 2);
    prompt_ = llm_->tokenizer->encode("Once upon a time, there was a little girl named Lily.", true, false);
  }
  static GenerationOptions greedy(int32_t logprobs) {
    GenerationOptions o;
    o.max_tokens = 24;
    o.sampling.temperature = 0;
    o.logprobs = logprobs;
    return o;
  }
  std::unique_ptr<Llm> llm_;
  std::vector<int32_t> prompt_;
};

TEST_F(ModelLogprobs, GeneratorReportsOneEntryPerTokenOfTheText) {
  Generator gen(*llm_->model, *llm_->tokenizer, 256);
  const auto r = gen.generate(prompt_, greedy(4));
  const size_t text_tokens = r.tokens.size() - (r.finish == FinishReason::Stop ? 1 : 0);
  ASSERT_EQ(r.logprobs.size(), text_tokens);
  ASSERT_GT(text_tokens, 0u);
  std::string pieces;
  for (size_t i = 0; i < r.logprobs.size(); ++i) {
    const auto& lp = r.logprobs[i];
    EXPECT_EQ(lp.id, r.tokens[i]);
    ASSERT_EQ(lp.top.size(), 4u);
    EXPECT_EQ(lp.top[0].id, lp.id);  // greedy: the chosen token is the most likely one
    EXPECT_FLOAT_EQ(lp.top[0].logprob, lp.logprob);
    EXPECT_LE(lp.logprob, 0.0f);
    pieces += llm_->tokenizer->token_to_piece(lp.id);
  }
  // Without the request nothing is computed.
  Generator plain(*llm_->model, *llm_->tokenizer, 256);
  const auto q = plain.generate(prompt_, greedy(-1));
  EXPECT_TRUE(q.logprobs.empty());
  EXPECT_EQ(q.text, r.text);
  GenerationOptions too_many = greedy(static_cast<int32_t>(kMaxTopLogprobs) + 1);
  EXPECT_THROW(plain.generate(prompt_, too_many), Error);
}

TEST_F(ModelLogprobs, SchedulerStreamsLogprobsWithTheirTextAndMatchesTheGenerator) {
  Generator gen(*llm_->model, *llm_->tokenizer, 256);
  const auto expected = gen.generate(prompt_, greedy(3));
  SchedulerOptions opt;
  opt.ctx_size = 256;
  opt.max_kv_cache_bytes = 4u << 20;
  opt.kv_type = kernels::KvType::F32;  // as the generator's cache: the same logits to float rounding
  Scheduler sched(*llm_, opt);
  auto with = sched.submit({prompt_, greedy(3), 1, ""});
  auto without = sched.submit({prompt_, greedy(-1), 1, ""});
  ASSERT_EQ(with.status, AdmitStatus::Accepted);
  ASSERT_EQ(without.status, AdmitStatus::Accepted);
  std::string text;
  std::vector<TokenLogprobs> got;
  while (with.stream->next(text, 50ms, &got)) {
  }
  EXPECT_EQ(text, expected.text);
  ASSERT_EQ(got.size(), expected.logprobs.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, expected.logprobs[i].id);
    EXPECT_NEAR(got[i].logprob, expected.logprobs[i].logprob, 1e-3);
    ASSERT_EQ(got[i].top.size(), 3u);
    EXPECT_EQ(got[i].top[0].id, got[i].id);
  }
  std::vector<TokenLogprobs> none;
  EXPECT_EQ(without.stream->wait_all(&none), expected.text);
  EXPECT_TRUE(none.empty());
  GenerationOptions too_many = greedy(static_cast<int32_t>(kMaxTopLogprobs) + 1);
  EXPECT_EQ(sched.submit({prompt_, too_many, 1, ""}).status, AdmitStatus::Invalid);
}

}  // namespace
}  // namespace ragd::engine
