// Speculative decoding: the acceptance rule on its own (greedy: the target's choice;
// sampling: the emitted token follows the target's distribution whatever the draft
// proposes), then the Generator with a draft on stories260K (a real, tiny llama): greedy
// output must be identical to the target alone, with the target as its own draft (every
// token accepted) and with a random-weight draft of the same vocabulary (almost every token
// rejected). The serving scheduler's speculation is tested in speculative_scheduler_test.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "engine/generator.h"
#include "engine/llm.h"
#include "engine/speculative_acceptance.h"
#include "engine/speculative_draft.h"
#include "engine/speculative_lookup.h"
#include "model/synth_model.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

SamplingParams plain_sampling(uint64_t seed) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

std::vector<double> softmax(const std::vector<float>& logits) {
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += (p[i] = std::exp(double(logits[i])));
  for (auto& x : p) x /= sum;
  return p;
}

TEST(SpeculativeAcceptance, GreedyKeepsTheTargetsChoice) {
  SamplingParams g;
  g.temperature = 0;
  Sampler sampler(g);
  const std::vector<int32_t> history = {1, 2};
  DraftProposal draft;
  draft.tokens = {3, 0};
  std::vector<float> row = {0.1f, 0.2f, 0.3f, 0.9f};
  auto a = accept_position(sampler, draft, 0, row, history);
  EXPECT_EQ(a.id, 3);
  EXPECT_TRUE(a.accepted);
  row = {0.1f, 0.2f, 0.8f, 0.3f};
  a = accept_position(sampler, draft, 1, row, history);
  EXPECT_EQ(a.id, 2);  // the target's token, not the draft's 0
  EXPECT_FALSE(a.accepted);
  a = accept_position(sampler, draft, 2, row, history);  // the bonus position
  EXPECT_EQ(a.id, 2);
  EXPECT_FALSE(a.accepted);
  EXPECT_THROW(accept_position(sampler, draft, 3, row, history), Error);
}

// Leviathan et al.'s rule keeps the target's distribution: the token emitted at a position
// is distributed as p, here with a draft q that over-proposes some tokens and never
// proposes another (q = 0 where p > 0). 40,000 draws: each frequency within 0.012 of p
// (over 4 standard deviations).
TEST(SpeculativeAcceptance, SamplingKeepsTheTargetDistribution) {
  const std::vector<float> target = {2.0f, 1.0f, 0.5f, -1.0f, 0.0f};
  const std::vector<float> draft_logits = {0.0f, 2.5f, 0.5f, 1.5f, -1e30f};
  const auto p = softmax(target);
  Sampler sampler(plain_sampling(1));
  Sampler draft_sampler(plain_sampling(2));
  const std::vector<int32_t> history = {0};
  const size_t n = 40000;
  std::vector<double> freq(target.size(), 0.0);
  size_t accepted = 0;
  DraftProposal draft;
  std::vector<float> row;
  for (size_t t = 0; t < n; ++t) {
    draft.clear();
    row = draft_logits;
    propose_token(draft_sampler, draft, row, history);
    ASSERT_NE(draft.tokens[0], 4);  // q(4) = 0
    row = target;
    const auto a = accept_position(sampler, draft, 0, row, history);
    freq[a.id] += 1.0 / n;
    accepted += a.accepted;
  }
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(freq[i], p[i], 0.012) << "token " << i;
  // Expected acceptance: sum_x min(p(x), q(x)).
  const auto q = softmax(draft_logits);
  double expect = 0;
  for (size_t i = 0; i < p.size(); ++i) expect += std::min(p[i], q[i]);
  EXPECT_NEAR(double(accepted) / n, expect, 0.012);
}

// A draft whose distribution is the target's is always accepted.
TEST(SpeculativeAcceptance, SamplingAcceptsADraftEqualToTheTarget) {
  const std::vector<float> logits = {0.3f, 1.0f, -0.5f, 0.9f};
  Sampler sampler(plain_sampling(3));
  Sampler draft_sampler(plain_sampling(4));
  const std::vector<int32_t> history = {0};
  DraftProposal draft;
  std::vector<float> row;
  for (int t = 0; t < 2000; ++t) {
    draft.clear();
    row = logits;
    propose_token(draft_sampler, draft, row, history);
    row = logits;
    ASSERT_TRUE(accept_position(sampler, draft, 0, row, history).accepted);
  }
}

TEST(SpeculativeAcceptance, DraftLengthFitsTheRequestAndTheContext) {
  // limit, max_tokens, generated, ctx_size, history
  EXPECT_EQ(draft_length(4, 100, 10, 2048, 500), 4u);
  // 3 tokens left: a round of k drafts emits up to k + 1.
  EXPECT_EQ(draft_length(4, 100, 97, 2048, 500), 2u);
  EXPECT_EQ(draft_length(4, 100, 99, 2048, 500), 0u);
  EXPECT_EQ(draft_length(4, 100, 100, 2048, 500), 0u);  // never wraps below zero
  // The verify pass writes positions up to history - 1 + k.
  EXPECT_EQ(draft_length(4, 100, 10, 2048, 2046), 2u);
  EXPECT_EQ(draft_length(4, 100, 10, 2048, 2048), 0u);
  EXPECT_EQ(draft_length(4, 100, 10, 2048, 4000), 0u);
}

TEST(SpeculativeLookup, ProposesWhatFollowedTheLongestRecentMatch) {
  std::vector<int32_t> out;
  // "... 5 6 7 8 9 ... 5 6 7": the 3-gram 5 6 7 occurred before, followed by 8 9 1.
  const std::vector<int32_t> h = {1, 5, 6, 7, 8, 9, 1, 2, 5, 6, 7};
  EXPECT_EQ(lookup_draft(h, 3, out), 3u);
  EXPECT_EQ(out, (std::vector<int32_t>{8, 9, 1}));
  EXPECT_EQ(lookup_draft(h, 10, out), 7u);  // up to the end of the history
  // The most recent occurrence wins: 3 4 after "1 2" twice, the later followed by 9.
  const std::vector<int32_t> twice = {1, 2, 3, 4, 1, 2, 9, 0, 1, 2};
  EXPECT_EQ(lookup_draft(twice, 2, out), 2u);
  EXPECT_EQ(out, (std::vector<int32_t>{9, 0}));
  // No repeated 2-gram: nothing (a single token is not enough by default).
  EXPECT_EQ(lookup_draft(std::vector<int32_t>{1, 2, 3, 1}, 4, out), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(lookup_draft(std::vector<int32_t>{1, 2, 3, 1}, 4, out, 4, 1), 3u);
  EXPECT_EQ(lookup_draft(std::vector<int32_t>{}, 4, out), 0u);
  EXPECT_EQ(lookup_draft(h, 0, out), 0u);
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("ragd-spec-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A random-weight 1-layer SmolLM2-shaped model with stories260K's vocabulary: a draft that
// almost never agrees with the target.
std::string synth_draft(const std::string& path) {
  model::SynthOptions o;
  o.arch = "smollm2-135m";
  o.target = *model::parse_quant_target("q8_0");
  o.vocab_path = kModel;
  o.layers = 1;
  o.threads = 1;
  o.seed = 7;
  model::synth_model(path, o);
  return path;
}

class SpeculativeGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found (" << kModel << "); it lives in ../shared";
    llm_ = Llm::load(kModel, 2);
  }

  GenerationResult run(const std::string& prompt, const GenerationOptions& o, model::LlamaModel* draft,
                       size_t k, SpeculativeStats* stats = nullptr) {
    Generator gen(*llm_->model, *llm_->tokenizer, 256);
    if (draft) gen.set_draft(draft, k);
    auto r = gen.generate(llm_->tokenizer->encode(prompt, true, false), o);
    if (stats) *stats = gen.speculative_stats();
    return r;
  }

  static GenerationOptions greedy(size_t max_tokens) {
    GenerationOptions o;
    o.max_tokens = max_tokens;
    o.sampling.temperature = 0;
    return o;
  }

  std::unique_ptr<Llm> llm_;
};

const std::vector<std::string> kPrompts = {
    "Once upon a time, there was a little girl named Lily.",
    "Tom and his dog went to the park to play.",
    "Sam was sad because",
};

TEST_F(SpeculativeGeneratorTest, TargetAsItsOwnDraftAcceptsEverythingAndMatches) {
  auto draft = DraftModel::load(kModel, *llm_);
  for (const auto& prompt : kPrompts) {
    for (size_t k : {1, 4, 7}) {
      const auto want = run(prompt, greedy(60), nullptr, 0);
      SpeculativeStats stats;
      const auto got = run(prompt, greedy(60), draft->model.get(), k, &stats);
      EXPECT_EQ(got.tokens, want.tokens) << prompt << " k=" << k;
      EXPECT_EQ(got.text, want.text);
      EXPECT_EQ(got.finish, want.finish);
      EXPECT_GT(stats.rounds, 0u);
      EXPECT_EQ(stats.accepted, stats.proposed) << prompt << " k=" << k;
      EXPECT_EQ(got.token_seconds.size() + 1, got.tokens.size());
    }
  }
}

TEST_F(SpeculativeGeneratorTest, DisagreeingDraftStillGivesTheTargetsOutput) {
  TempDir dir;
  auto draft = DraftModel::load(synth_draft(dir.file("draft.gguf")), *llm_);
  SpeculativeStats total;
  for (const auto& prompt : kPrompts) {
    // Lengths that end mid-round and at a round's end.
    for (size_t max_tokens : {1, 2, 5, 13, 48}) {
      const auto want = run(prompt, greedy(max_tokens), nullptr, 0);
      SpeculativeStats stats;
      const auto got = run(prompt, greedy(max_tokens), draft->model.get(), 4, &stats);
      EXPECT_EQ(got.tokens, want.tokens) << prompt << " max_tokens=" << max_tokens;
      EXPECT_EQ(got.text, want.text);
      EXPECT_EQ(got.finish, want.finish);
      total += stats;
    }
  }
  EXPECT_GT(total.proposed, 0u);
  EXPECT_LT(total.acceptance_rate(), 0.5);  // random weights: mostly rejected
  EXPECT_EQ(total.emitted, total.accepted + total.rounds);
}

TEST_F(SpeculativeGeneratorTest, StopStringsLogprobsAndSamplingWork) {
  auto draft = DraftModel::load(kModel, *llm_);
  auto o = greedy(60);
  o.stop = {"park"};
  o.logprobs = 2;
  const auto want = run(kPrompts[1], o, nullptr, 0);
  const auto got = run(kPrompts[1], o, draft->model.get(), 4);
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(got.finish, want.finish);
  ASSERT_EQ(got.logprobs.size(), want.logprobs.size());
  for (size_t i = 0; i < got.logprobs.size(); ++i) {
    EXPECT_EQ(got.logprobs[i].id, want.logprobs[i].id);
    EXPECT_NEAR(got.logprobs[i].logprob, want.logprobs[i].logprob, 1e-4);
  }
  // Sampling: a draft equal to the target is accepted (almost) always, and the text is real.
  GenerationOptions s;
  s.max_tokens = 40;
  s.ignore_eos = true;
  s.sampling.seed = 11;
  SpeculativeStats stats;
  const auto sampled = run(kPrompts[0], s, draft->model.get(), 4, &stats);
  EXPECT_EQ(sampled.tokens.size(), 40u);
  EXPECT_GT(stats.acceptance_rate(), 0.9);
}

TEST_F(SpeculativeGeneratorTest, PromptLookupGivesTheTargetsOutput) {
  SpeculativeStats total;
  // A prompt that repeats itself, so that lookups find something.
  const std::string echo = "Lily said: the big red ball is on the mat. Tom said: the big red ball is on the mat. Sam said:";
  for (const auto& prompt : {kPrompts[0], kPrompts[2], echo}) {
    for (size_t max_tokens : {3, 40}) {
      const auto want = run(prompt, greedy(max_tokens), nullptr, 0);
      Generator gen(*llm_->model, *llm_->tokenizer, 256);
      gen.set_prompt_lookup(4);
      const auto got = gen.generate(llm_->tokenizer->encode(prompt, true, false), greedy(max_tokens));
      EXPECT_EQ(got.tokens, want.tokens) << prompt;
      EXPECT_EQ(got.finish, want.finish);
      total += gen.speculative_stats();
    }
  }
  EXPECT_GT(total.rounds, 0u);
  EXPECT_GT(total.accepted, 0u);
  EXPECT_EQ(total.emitted, total.accepted + total.rounds);
}

TEST_F(SpeculativeGeneratorTest, RefusesADraftWithAnotherVocabulary) {
  const std::string other = std::string(RAGD_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!fs::exists(other)) GTEST_SKIP() << "no second vocabulary at hand (" << other << ")";
  try {
    DraftModel::load(other, *llm_);
    FAIL() << "a draft with another vocabulary was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer"), std::string::npos) << e.what();
  }
}

// The real pair of the issue: Qwen2.5-Coder 1.5B verified against its 0.5B sibling.
TEST(SpeculativeRealPair, QwenGreedyOutputIsIdentical) {
  const std::string dir = std::string(RAGD_SOURCE_DIR) + "/models/";
  const std::string target = dir + "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf";
  const std::string draft_path = dir + "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf";
  if (!fs::exists(target) || !fs::exists(draft_path)) GTEST_SKIP() << "Qwen2.5-Coder 1.5B / 0.5B not in models/";
  auto llm = Llm::load(target, 2);
  auto draft = DraftModel::load(draft_path, *llm);
  const auto prompt = llm->tokenizer->encode(
      "<|im_start|>user\nWrite a Python function that returns the n-th Fibonacci number.<|im_end|>\n"
      "<|im_start|>assistant\n",
      false, true);
  GenerationOptions o;
  o.max_tokens = 24;
  o.sampling.temperature = 0;
  Generator plain(*llm->model, *llm->tokenizer, 512);
  const auto want = plain.generate(prompt, o);
  Generator spec(*llm->model, *llm->tokenizer, 512);
  spec.set_draft(draft->model.get(), 4);
  const auto got = spec.generate(prompt, o);
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_EQ(got.text, want.text);
  EXPECT_GT(spec.speculative_stats().accepted, 0u);
}

}  // namespace
}  // namespace ragd::engine
