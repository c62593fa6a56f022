// Speculative decoding inside the serving scheduler (continuous batching), on stories260K:
// concurrent requests with a draft model give the text of the Generator with the same draft
// (greedy: the text of the target alone), with the target as its own draft (everything
// accepted) and a random-weight draft (almost everything rejected), alongside prefill
// chunks, preemption, the prefix cache, and requests that do not speculate (grammar).
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "engine/gbnf_grammar.h"
#include "engine/generator.h"
#include "engine/llm.h"
#include "engine/scheduler.h"
#include "engine/speculative_draft.h"
#include "model/synth_model.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

const std::vector<std::string> kPrompts = {
    "Once upon a time, there was a little girl named Lily.",
    "The cat sat on the mat and looked at the big red ball.",
    "Tom and his dog went to the park to play.",
    "One day, a bird flew over the tall green tree and",
    "Sam was sad because",
};

class SpeculativeSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found (" << kModel << "); it lives in ../shared";
    llm_ = Llm::load(kModel, 2);
    self_draft_ = DraftModel::load(kModel, *llm_);
    dir_ = fs::temp_directory_path() / ("ragd-spec-sched-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // A random-weight 1-layer model with stories260K's vocabulary.
  std::unique_ptr<DraftModel> random_draft() {
    model::SynthOptions o;
    o.arch = "smollm2-135m";
    o.target = *model::parse_quant_target("q8_0");
    o.vocab_path = kModel;
    o.layers = 1;
    o.threads = 1;
    o.seed = 7;
    const auto path = (dir_ / "draft.gguf").string();
    model::synth_model(path, o);
    return DraftModel::load(path, *llm_);
  }

  std::vector<int32_t> encode(const std::string& text) const { return llm_->tokenizer->encode(text, true, false); }

  // Requests: greedy, one with a stop string, one with logprobs, one sampled with a seed.
  static std::vector<GenerationOptions> request_options(size_t max_tokens) {
    std::vector<GenerationOptions> out;
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      GenerationOptions o;
      o.max_tokens = max_tokens - i;  // ends at different points of a round
      o.ignore_eos = true;
      o.sampling.temperature = 0;
      if (i == 1) o.logprobs = 3;
      if (i == 3) o.stop = {"."};
      if (i == 4) {
        o.sampling.temperature = 0.8f;
        o.sampling.seed = 7;
      }
      out.push_back(o);
    }
    return out;
  }

  // `lookup`: prompt lookup instead of a draft model.
  GenerationResult alone(size_t i, const GenerationOptions& o, size_t ctx, model::LlamaModel* draft, size_t k,
                         bool lookup = false) {
    Generator gen(*llm_->model, *llm_->tokenizer, ctx);
    if (draft) gen.set_draft(draft, k);
    if (lookup) gen.set_prompt_lookup(k);
    return gen.generate(encode(kPrompts[i]), o);
  }

  // All prompts at once through a scheduler with `draft`: each text must be the
  // generator's with the same draft, and a greedy one the target's alone. A sampled text
  // depends on where rounds begin (each round's draws), which preemption moves: the
  // recompute samples its next token without a draft. So with preemption only greedy
  // texts are compared (`sampled_too` false).
  SchedulerStats expect_same_as_generator(SchedulerOptions opt, model::LlamaModel* draft, size_t max_tokens,
                                          bool sampled_too = true) {
    const auto options = request_options(max_tokens);
    std::vector<GenerationResult> with_draft, plain;
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      with_draft.push_back(alone(i, options[i], opt.ctx_size, draft, opt.draft_tokens, opt.prompt_lookup));
      plain.push_back(alone(i, options[i], opt.ctx_size, nullptr, 0));
    }
    Scheduler sched(*llm_, opt, draft);
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      auto a = sched.submit({encode(kPrompts[i]), options[i], 1, {}});
      EXPECT_EQ(a.status, AdmitStatus::Accepted) << a.message;
      streams.push_back(a.stream);
    }
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      std::vector<TokenLogprobs> lps;
      const std::string text = streams[i]->wait_all(&lps);
      const auto sum = streams[i]->summary();
      EXPECT_TRUE(sum.error.empty()) << sum.error;
      if (sampled_too || options[i].sampling.temperature == 0) {
        EXPECT_EQ(text, with_draft[i].text) << kPrompts[i];
        EXPECT_EQ(sum.finish, with_draft[i].finish) << kPrompts[i];
        EXPECT_EQ(sum.completion_tokens, with_draft[i].tokens.size()) << kPrompts[i];
      }
      if (options[i].sampling.temperature == 0) {
        EXPECT_EQ(text, plain[i].text) << kPrompts[i];
        EXPECT_EQ(sum.completion_tokens, plain[i].tokens.size()) << kPrompts[i];
      }
      if (options[i].logprobs >= 0) {
        EXPECT_EQ(lps.size(), plain[i].logprobs.size());
        for (size_t t = 0; t < std::min(lps.size(), plain[i].logprobs.size()); ++t) {
          EXPECT_EQ(lps[t].id, plain[i].logprobs[t].id);
          EXPECT_NEAR(lps[t].logprob, plain[i].logprobs[t].logprob, 1e-4);
        }
      }
    }
    const auto st = sched.stats();
    EXPECT_EQ(st.running, 0u);
    EXPECT_EQ(st.blocks.used, 0u);
    EXPECT_EQ(st.finished, kPrompts.size());
    EXPECT_TRUE(st.speculative);
    EXPECT_GT(st.spec.rounds, 0u);
    EXPECT_LE(st.spec.accepted, st.spec.proposed);
    return st;
  }

  static SchedulerOptions options(size_t ctx_size) {
    SchedulerOptions opt;
    opt.ctx_size = ctx_size;
    opt.max_kv_cache_bytes = 4u << 20;
    opt.kv_type = kernels::KvType::F32;  // as the Generator's: logprobs and draws compare exactly
    return opt;
  }

  // Blocks of 4 tokens, 8 tokens per step for 3 sequences: prefill chunks of a few tokens
  // beside rounds whose k must shrink to fit.
  static SchedulerOptions tight_budget(size_t draft_tokens) {
    auto opt = options(128);
    opt.block_tokens = 4;
    opt.max_batch_tokens = 8;
    opt.max_batch_size = 3;
    opt.max_wait_time = 0;
    opt.draft_tokens = draft_tokens;
    return opt;
  }

  std::unique_ptr<Llm> llm_;
  std::unique_ptr<DraftModel> self_draft_;
  fs::path dir_;
};

TEST_F(SpeculativeSchedulerTest, TargetAsItsOwnDraftMatchesAndAcceptsEverything) {
  for (size_t k : {1, 4}) {
    auto opt = options(256);
    opt.draft_tokens = k;
    const auto st = expect_same_as_generator(opt, self_draft_->model.get(), 40);
    EXPECT_EQ(st.spec.accepted, st.spec.proposed) << "k=" << k;
  }
}

TEST_F(SpeculativeSchedulerTest, RandomDraftStillGivesTheTargetsText) {
  auto draft = random_draft();
  const auto st = expect_same_as_generator(options(256), draft->model.get(), 40);
  EXPECT_LT(st.spec.acceptance_rate(), 0.5);
}

TEST_F(SpeculativeSchedulerTest, SmallChunksAndTightBudgetInterleaveAndMatch) {
  // Prefill chunks of a few tokens beside rounds that must shrink k to fit the budget.
  auto opt = tight_budget(4);
  expect_same_as_generator(opt, self_draft_->model.get(), 40);
}

TEST_F(SpeculativeSchedulerTest, PreemptionWithDraftsGivesTheRightText) {
  // A pool of little more than one full context: sequences are preempted and recomputed.
  auto opt = options(128);
  opt.block_tokens = 4;
  const auto& c = llm_->model->config();
  const auto& d = self_draft_->model->config();
  const size_t per_block = model::KvCache::bytes_per_block(c.n_layer, c.kv_dim(), 4, opt.kv_type) +
                           model::KvCache::bytes_per_block(d.n_layer, d.kv_dim(), 4, opt.kv_type);
  opt.max_kv_cache_bytes = per_block * (128 / 4 + 8);
  const auto st = expect_same_as_generator(opt, self_draft_->model.get(), 100, false);
  EXPECT_GT(st.preemptions, 0u);
}

TEST_F(SpeculativeSchedulerTest, PrefixCacheHitsKeepTheDraftsCacheValid) {
  auto opt = options(256);
  Scheduler sched(*llm_, opt, self_draft_->model.get());
  GenerationOptions o;
  o.max_tokens = 30;
  o.ignore_eos = true;
  o.sampling.temperature = 0;
  const auto prompt = encode(kPrompts[0] + " " + kPrompts[1] + " " + kPrompts[2]);
  const std::string first = sched.submit({prompt, o, 1, {}}).stream->wait_all();
  auto again = sched.submit({prompt, o, 1, {}}).stream;
  EXPECT_EQ(again->wait_all(), first);
  EXPECT_GT(again->summary().cached_prompt_tokens, 0u);
  const auto st = sched.stats();
  // A draft cache without the cached blocks' keys/values would propose other tokens.
  EXPECT_EQ(st.spec.accepted, st.spec.proposed);
}

// Prompt lookup (no draft model): the Generator's texts with lookup and, greedy, the
// target's alone; stories260K repeats itself, so lookups find matches to verify.
TEST_F(SpeculativeSchedulerTest, PromptLookupMatchesTheGenerator) {
  for (size_t k : {1, 4}) {
    auto opt = options(256);
    opt.draft_tokens = k;
    opt.prompt_lookup = true;
    const auto st = expect_same_as_generator(opt, nullptr, 60);
    EXPECT_GT(st.spec.proposed, 0u) << "k=" << k;
    EXPECT_GT(st.spec.accepted, 0u) << "k=" << k;
  }
}

TEST_F(SpeculativeSchedulerTest, PromptLookupUnderATightBudgetAndPreemption) {
  // Budgets that cut a proposal short (run_draft trims it) and a pool that preempts.
  auto opt = tight_budget(6);
  opt.prompt_lookup = true;
  const auto& c = llm_->model->config();
  opt.max_kv_cache_bytes = model::KvCache::bytes_per_block(c.n_layer, c.kv_dim(), 4, opt.kv_type) * (128 / 4 + 8);
  const auto st = expect_same_as_generator(opt, nullptr, 100, false);
  EXPECT_GT(st.spec.proposed, 0u);
}

TEST_F(SpeculativeSchedulerTest, PromptLookupAndADraftModelExcludeEachOther) {
  auto opt = options(256);
  opt.prompt_lookup = true;
  EXPECT_THROW(Scheduler(*llm_, opt, self_draft_->model.get()), Error);
}

TEST_F(SpeculativeSchedulerTest, GrammarRequestsDecodeWithoutTheDraft) {
  auto opt = options(256);
  Scheduler sched(*llm_, opt, self_draft_->model.get());
  GenerationOptions o;
  o.max_tokens = 20;
  o.sampling.temperature = 0;
  o.grammar = GbnfGrammar::parse("root ::= \"yes\" | \"no\"");
  Generator gen(*llm_->model, *llm_->tokenizer, 256);
  const auto want = gen.generate(encode(kPrompts[2]), o);
  auto stream = sched.submit({encode(kPrompts[2]), o, 1, {}}).stream;
  EXPECT_EQ(stream->wait_all(), want.text);
  EXPECT_EQ(sched.stats().spec.rounds, 0u);
}

}  // namespace
}  // namespace ragd::engine
