// Scheduler on stories260K (a real, tiny llama): batched serving must give each request
// exactly what the single-sequence Generator gives it alone, and admission control, prefix
// caching, cancellation, timeouts, priorities and preemption must behave as documented.
//
// No timing asserts: where a test needs the scheduler to hold still (a request must still be
// running when others arrive), a step observer parks the scheduler thread at a Gate.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include "engine/generator.h"
#include "engine/llm.h"

namespace ragd::engine {
namespace {

using namespace std::chrono_literals;

const std::string kModel = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

const std::vector<std::string> kPrompts = {
    "Once upon a time, there was a little girl named Lily.",
    "The cat sat on the mat and looked at the big red ball.",
    "Tom and his dog went to the park to play.",
    "One day, a bird flew over the tall green tree and",
    "Sam was sad because",
};

// Holds the scheduler thread after a step while closed (installed as the step observer).
class Gate {
 public:
  void pass() {
    std::unique_lock lock(mu_);
    if (open_) return;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    held_ = false;
  }
  void wait_until_held() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return held_; });
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false, held_ = false;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModel)) {
      GTEST_SKIP() << "model not found (" << kModel << "); it lives in ../shared";
    }
    llm_ = Llm::load(kModel, 2);
  }

  std::vector<int32_t> encode(const std::string& text) const {
    return llm_->tokenizer->encode(text, true, false);
  }

  static GenerationOptions greedy(size_t max_tokens, bool ignore_eos = false) {
    GenerationOptions o;
    o.max_tokens = max_tokens;
    o.ignore_eos = ignore_eos;
    o.sampling.temperature = 0;
    return o;
  }

  // What the single-sequence generator says (run before any scheduler uses the model).
  GenerationResult alone(const std::vector<int32_t>& prompt, const GenerationOptions& o,
                         size_t ctx_size) {
    Generator gen(*llm_->model, *llm_->tokenizer, ctx_size);
    return gen.generate(prompt, o);
  }

  std::shared_ptr<RequestStream> submit(Scheduler& s, std::vector<int32_t> prompt,
                                        GenerationOptions o, size_t priority = 1,
                                        std::string user = {}) {
    auto a = s.submit({std::move(prompt), std::move(o), priority, std::move(user)});
    EXPECT_EQ(a.status, AdmitStatus::Accepted) << a.message;
    return a.stream;
  }

  // Concurrent requests (greedy, one with a stop string, one sampled with a seed) vs the
  // generator alone.
  void expect_same_as_generator(SchedulerOptions opt, size_t max_tokens, bool ignore_eos,
                                std::function<void(const StepInfo&)> observer = {}) {
    std::vector<GenerationResult> expected;
    std::vector<GenerationOptions> options;
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      auto o = greedy(max_tokens, ignore_eos);
      if (i == 3) o.stop = {"."};
      if (i == 4) {  // sampled, not greedy: the sequence's own seeded generator decides
        o.sampling.temperature = 0.8f;
        o.sampling.seed = 7;
      }
      options.push_back(o);
      expected.push_back(alone(encode(kPrompts[i]), o, opt.ctx_size));
    }
    Scheduler sched(*llm_, opt);
    if (observer) sched.set_step_observer(observer);
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      streams.push_back(submit(sched, encode(kPrompts[i]), options[i]));
    }
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      std::string text = streams[i]->wait_all();
      auto sum = streams[i]->summary();
      EXPECT_EQ(text, expected[i].text) << kPrompts[i];
      EXPECT_EQ(sum.finish, expected[i].finish) << kPrompts[i];
      EXPECT_EQ(sum.completion_tokens, expected[i].tokens.size()) << kPrompts[i];
      EXPECT_EQ(sum.prompt_tokens, expected[i].prompt_tokens);
      EXPECT_TRUE(sum.error.empty());
    }
    auto st = sched.stats();
    EXPECT_EQ(st.running, 0u);
    EXPECT_EQ(st.blocks.used, 0u);
    EXPECT_EQ(st.finished, kPrompts.size());
  }

  // Small KV pools keep the tests fast (the default pool is 256 MiB).
  static SchedulerOptions options(size_t ctx_size) {
    SchedulerOptions opt;
    opt.ctx_size = ctx_size;
    opt.max_kv_cache_bytes = 4u << 20;
    return opt;
  }

  std::unique_ptr<Llm> llm_;
};

TEST_F(SchedulerTest, ConcurrentGreedyRequestsMatchTheGeneratorAlone) {
  auto opt = options(256);
  expect_same_as_generator(opt, 48, false);
}

TEST_F(SchedulerTest, SmallChunksInterleavePrefillWithDecodesAndMatch) {
  // Prompts are prefilled 5 tokens a step at most, alongside other sequences' decodes.
  auto opt = options(128);
  opt.block_tokens = 4;
  opt.max_batch_tokens = 8;
  opt.max_batch_size = 3;
  opt.max_wait_time = 0;  // every prompt is overdue: chunks take the whole budget left
  expect_same_as_generator(opt, 40, true);
}

TEST_F(SchedulerTest, AdaptiveBatchingShrinksPrefillWhileDecodingAndMatches) {
  // With prompts never overdue, decoding sequences shrink the prefill share of each step.
  auto opt = options(128);
  opt.block_tokens = 4;
  opt.max_batch_tokens = 16;
  opt.max_batch_size = 4;
  opt.max_wait_time = 1e9;
  std::vector<StepInfo> steps;  // read after the helper's scheduler has joined
  expect_same_as_generator(opt, 40, true, [&](const StepInfo& i) { steps.push_back(i); });
  size_t mixed = 0;
  for (const auto& st : steps) {
    if (st.decode_tokens == 0) continue;
    const size_t rest = opt.max_batch_tokens - st.decode_tokens;
    const size_t free_slots = opt.max_batch_size - st.decode_tokens;
    const size_t share = std::max(opt.block_tokens, rest * free_slots / opt.max_batch_size);
    EXPECT_LE(st.prefill_tokens, share) << st.decode_tokens << " decodes";
    if (st.prefill_tokens > 0) ++mixed;
  }
  EXPECT_GT(mixed, 0u);
}

TEST_F(SchedulerTest, PreemptionWhenKvBlocksRunOutStillGivesTheRightText) {
  // The pool holds one full context (32 blocks of 4): five sequences growing to ~110 tokens
  // cannot all fit, so some are preempted and recomputed.
  auto opt = options(128);
  opt.block_tokens = 4;
  opt.max_kv_cache_bytes = 1;
  expect_same_as_generator(opt, 96, true);
}

TEST_F(SchedulerTest, PreemptionCounterMovesWhenKvIsTiny) {
  auto opt = options(128);
  opt.block_tokens = 4;
  opt.max_kv_cache_bytes = 1;
  Scheduler sched(*llm_, opt);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& p : kPrompts) streams.push_back(submit(sched, encode(p), greedy(96, true)));
  for (auto& s : streams) {
    s->wait_all();
    EXPECT_EQ(s->summary().finish, FinishReason::Length);
    EXPECT_EQ(s->summary().completion_tokens, 96u);
  }
  auto st = sched.stats();
  EXPECT_GT(st.preemptions, 0u);
  EXPECT_EQ(st.blocks.used, 0u);
  EXPECT_EQ(st.blocks.total, 32u);
}

TEST_F(SchedulerTest, SecondRequestWithTheSamePromptReusesCachedBlocks) {
  std::string story;
  for (const auto& p : kPrompts) story += p + " ";
  auto prompt = encode(story);
  ASSERT_GT(prompt.size(), 40u);
  auto opt = options(256);
  Scheduler sched(*llm_, opt);
  auto first = submit(sched, prompt, greedy(32));
  const std::string text1 = first->wait_all();
  EXPECT_EQ(first->summary().cached_prompt_tokens, 0u);

  auto second = submit(sched, prompt, greedy(32));
  const std::string text2 = second->wait_all();
  const auto sum = second->summary();
  // Every token but the last (whose logits are needed): the full blocks, then the start
  // of the block the first request filled with the prompt's tail and its answer.
  EXPECT_EQ(sum.cached_prompt_tokens, prompt.size() - 1);
  EXPECT_NE(prompt.size() % opt.block_tokens, 1u) << "the tail must be a partial block";
  EXPECT_EQ(text2, text1);
  auto st = sched.stats();
  EXPECT_GE(st.blocks.prefix_hit_tokens, sum.cached_prompt_tokens);
  EXPECT_GT(st.blocks.cached, 0u);

  sched.clear_prefix_cache();
  EXPECT_EQ(sched.stats().blocks.cached, 0u);
  auto third = submit(sched, prompt, greedy(32));
  EXPECT_EQ(third->wait_all(), text1);
  EXPECT_EQ(third->summary().cached_prompt_tokens, 0u);
}

// A prompt that shares a prefix ending inside a block with an earlier one reuses the
// agreeing positions of that block (copied into its own block) and still answers exactly
// what the generator alone answers; the earlier request's cached block is not modified,
// so asking the first prompt again gives its first answer.
TEST_F(SchedulerTest, PrefixEndingInsideABlockIsReusedAndTheAnswerIsUnchanged) {
  std::string story;
  for (const auto& p : kPrompts) story += p + " ";
  const auto first_prompt = encode(story + "The end.");
  auto shared = encode(story);
  ASSERT_GT(shared.size(), 40u);
  auto opt = options(256);
  ASSERT_NE(shared.size() % opt.block_tokens, 0u);
  auto second_prompt = shared;
  for (int32_t t : encode(" Then the sun came out and everyone was happy.")) {
    if (t != first_prompt[0]) second_prompt.push_back(t);  // skip the BOS token
  }
  // How far the two token sequences agree (tokenization may merge across the seam).
  size_t agree = 0;
  while (agree < first_prompt.size() && agree < second_prompt.size() &&
         first_prompt[agree] == second_prompt[agree]) {
    ++agree;
  }
  ASSERT_GT(agree % opt.block_tokens, 0u);
  const auto expected = alone(second_prompt, greedy(24), opt.ctx_size);
  const auto expected_first = alone(first_prompt, greedy(24), opt.ctx_size);

  Scheduler sched(*llm_, opt);
  auto first = submit(sched, first_prompt, greedy(24));
  EXPECT_EQ(first->wait_all(), expected_first.text);
  auto second = submit(sched, second_prompt, greedy(24));
  EXPECT_EQ(second->wait_all(), expected.text);
  EXPECT_EQ(second->summary().cached_prompt_tokens, agree);
  auto again = submit(sched, first_prompt, greedy(24));
  EXPECT_EQ(again->wait_all(), expected_first.text);
  EXPECT_EQ(sched.stats().blocks.used, 0u);
}

// Sampling runs on the pool; a request whose sampling fails (logit_bias bans every token)
// ends with an error of its own while the request beside it is unaffected.
TEST_F(SchedulerTest, FailedSamplingEndsOnlyItsOwnRequest) {
  auto opt = options(128);
  const auto good_prompt = encode(kPrompts[0]);
  const auto expected = alone(good_prompt, greedy(16), opt.ctx_size);
  GenerationOptions banned = greedy(16);
  banned.sampling.temperature = 0.8f;
  for (int32_t id = 0; id < static_cast<int32_t>(llm_->model->config().n_vocab); ++id) {
    banned.sampling.logit_bias[id] = -INFINITY;
  }
  Scheduler sched(*llm_, opt);
  auto bad = submit(sched, encode(kPrompts[1]), banned);
  auto good = submit(sched, good_prompt, greedy(16));
  bad->wait_all();
  EXPECT_EQ(bad->summary().finish, FinishReason::Error);
  EXPECT_NE(bad->summary().error.find("logit_bias"), std::string::npos) << bad->summary().error;
  EXPECT_EQ(good->wait_all(), expected.text);
  EXPECT_TRUE(good->summary().error.empty());
  EXPECT_EQ(sched.stats().blocks.used, 0u);
}

TEST_F(SchedulerTest, CancelStopsTheStreamAndFreesItsBlocks) {
  auto opt = options(256);
  Scheduler sched(*llm_, opt);
  Gate gate;
  sched.set_step_observer([&](const StepInfo&) { gate.pass(); });
  auto s = submit(sched, encode(kPrompts[0]), greedy(200, true));
  gate.wait_until_held();
  EXPECT_GT(sched.stats().blocks.used, 0u);
  s->cancel();
  gate.open();
  s->wait_all();
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(s->summary().finish, FinishReason::Cancelled);
  EXPECT_LT(s->summary().completion_tokens, 200u);
  auto st = sched.stats();
  EXPECT_EQ(st.blocks.used, 0u);
  EXPECT_EQ(st.running, 0u);
  EXPECT_EQ(st.cancelled, 1u);
}

TEST_F(SchedulerTest, AdmissionControlAnswersOverloadedUserLimitTooLongInvalid) {
  auto opt = options(64);
  opt.max_concurrent = 3;
  opt.max_per_user = 1;
  Scheduler sched(*llm_, opt);
  Gate gate;
  sched.set_step_observer([&](const StepInfo&) { gate.pass(); });
  auto prompt = encode(kPrompts[0]);
  auto a = submit(sched, prompt, greedy(50, true), 1, "alice");
  gate.wait_until_held();  // alice's request is running and cannot finish
  auto b = submit(sched, prompt, greedy(50, true), 1, "bob");

  auto again = sched.submit({prompt, greedy(5), 1, "alice"});
  EXPECT_EQ(again.status, AdmitStatus::UserLimit);
  EXPECT_GE(again.retry_after_seconds, 1.0);
  EXPECT_FALSE(again.stream);

  auto c = submit(sched, prompt, greedy(50, true), 1, "carol");
  auto over = sched.submit({prompt, greedy(5), 1, "dave"});
  EXPECT_EQ(over.status, AdmitStatus::Overloaded);
  EXPECT_GE(over.retry_after_seconds, 1.0);
  EXPECT_FALSE(over.message.empty());

  std::vector<int32_t> long_prompt(64, prompt[1]);
  EXPECT_EQ(sched.submit({long_prompt, greedy(5), 1, ""}).status, AdmitStatus::TooLong);
  EXPECT_EQ(sched.submit({{}, greedy(5), 1, ""}).status, AdmitStatus::Invalid);
  auto bad = greedy(5);
  bad.sampling.top_p = 2;
  auto invalid = sched.submit({prompt, bad, 1, ""});
  EXPECT_EQ(invalid.status, AdmitStatus::Invalid);
  EXPECT_NE(invalid.message.find("top_p"), std::string::npos) << invalid.message;
  EXPECT_EQ(sched.submit({{1, 1 << 30}, greedy(5), 1, ""}).status, AdmitStatus::Invalid);
  EXPECT_EQ(sched.stats().rejected, 6u);

  gate.open();
  for (auto& s : {a, b, c}) {
    s->wait_all();
    EXPECT_EQ(s->summary().finish, FinishReason::Length);
  }
  // Capacity is back once they finished.
  auto later = submit(sched, prompt, greedy(3), 1, "alice");
  later->wait_all();
  EXPECT_EQ(later->summary().completion_tokens, 3u);
}

TEST_F(SchedulerTest, RequestWaitingLongerThanQueueTimeoutTimesOut) {
  auto opt = options(128);
  opt.max_batch_size = 1;
  opt.queue_timeout = 0.001;
  Scheduler sched(*llm_, opt);
  Gate gate;
  sched.set_step_observer([&](const StepInfo&) { gate.pass(); });
  auto first = submit(sched, encode(kPrompts[0]), greedy(20, true));
  gate.wait_until_held();
  auto second = submit(sched, encode(kPrompts[1]), greedy(20, true));
  EXPECT_EQ(sched.stats().waiting_by_priority[1], 1u);
  std::this_thread::sleep_for(10ms);  // well past queue_timeout, while the slot stays taken
  gate.open();
  EXPECT_EQ(second->wait_all(), "");
  EXPECT_EQ(second->summary().finish, FinishReason::Timeout);
  EXPECT_FALSE(second->summary().error.empty());
  first->wait_all();
  EXPECT_EQ(first->summary().finish, FinishReason::Length);
  EXPECT_EQ(sched.stats().timed_out, 1u);
}

TEST_F(SchedulerTest, HigherPriorityRunsFirst) {
  auto opt = options(128);
  opt.max_batch_size = 1;
  Scheduler sched(*llm_, opt);
  Gate gate;
  sched.set_step_observer([&](const StepInfo&) { gate.pass(); });
  auto running = submit(sched, encode(kPrompts[0]), greedy(20, true), 1);
  gate.wait_until_held();
  auto low = submit(sched, encode(kPrompts[1]), greedy(20, true), 2);
  auto high = submit(sched, encode(kPrompts[2]), greedy(20, true), 0);
  auto st = sched.stats();
  EXPECT_EQ(st.waiting_by_priority[0], 1u);
  EXPECT_EQ(st.waiting_by_priority[2], 1u);
  gate.open();
  // With one batch slot, the low-priority request cannot produce text before the
  // high-priority one (submitted later) has finished.
  std::string text;
  while (text.empty() && low->next(text, 1000ms)) {
  }
  EXPECT_FALSE(text.empty());
  EXPECT_TRUE(high->finished());
  EXPECT_TRUE(running->finished());
  low->wait_all();
  EXPECT_GT(low->summary().queue_seconds, high->summary().queue_seconds);
}

TEST_F(SchedulerTest, StreamsTextIncrementallyAndReportsTimings) {
  auto opt = options(128);
  auto o = greedy(30, true);
  auto expected = alone(encode(kPrompts[0]), o, opt.ctx_size);
  auto sched = std::make_unique<Scheduler>(*llm_, opt);
  std::vector<StepInfo> steps;  // written on the scheduler thread; read after it joined
  sched->set_step_observer([&](const StepInfo& info) { steps.push_back(info); });
  auto s = submit(*sched, encode(kPrompts[0]), o);
  std::string text;
  while (s->next(text, 1000ms)) {
  }
  EXPECT_EQ(text, expected.text);
  auto sum = s->summary();
  EXPECT_EQ(sum.completion_tokens, 30u);
  EXPECT_GE(sum.ttft_seconds, sum.queue_seconds);
  EXPECT_GE(sum.decode_seconds, 0.0);
  EXPECT_EQ(sched->stats().generated_tokens, 30u);
  sched.reset();
  // One prefill step, then one decode step per further token.
  ASSERT_EQ(steps.size(), 30u);
  EXPECT_EQ(steps[0].prefill_tokens, expected.prompt_tokens);
  EXPECT_EQ(steps[0].decode_tokens, 0u);
  EXPECT_EQ(steps[1].decode_tokens, 1u);
  EXPECT_EQ(steps[1].sequences, 1u);
}

TEST_F(SchedulerTest, DestructorEndsUnfinishedRequests) {
  std::shared_ptr<RequestStream> s;
  {
    auto opt = options(256);
    Scheduler sched(*llm_, opt);
    s = submit(sched, encode(kPrompts[0]), greedy(250, true));
  }
  EXPECT_TRUE(s->finished());
  auto f = s->summary().finish;
  EXPECT_TRUE(f == FinishReason::Cancelled || f == FinishReason::Length);
}

}  // namespace
}  // namespace ragd::engine
