// Scheduler::submit_choices on stories260K: n choices of one prompt prefill it once and
// start from its KV blocks (shared full blocks, a copy of the partial last one), and still
// give each choice exactly what the single-sequence Generator gives it alone with its seed.
// Blocks go back exactly once whatever ends the choices: finishing, cancellation before or
// after the fork, refusal at admission, preemption.
//
// As in scheduler_test.cpp, no timing asserts: a step observer parks the scheduler thread
// at a Gate where a test needs it to hold still.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "engine/generator.h"
#include "engine/llm.h"
#include "engine/scheduler.h"
#include "engine/speculative_draft.h"

namespace ragd::engine {
namespace {

using namespace std::chrono_literals;

const std::string kModel = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

const std::string kStory =
    "Once upon a time, there was a little girl named Lily. The cat sat on the mat and looked at "
    "the big red ball. Tom and his dog went to the park to play. One day, a bird flew over the "
    "tall green tree and";

// Holds the scheduler thread after a step while closed (installed as the step observer);
// `after` steps pass first.
class Gate {
 public:
  explicit Gate(size_t after = 0) : after_(after) {}
  void pass() {
    std::unique_lock lock(mu_);
    if (open_) return;
    if (after_ > 0) {
      --after_;
      return;
    }
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
  size_t after_;
  bool open_ = false, held_ = false;
};

class SchedulerChoicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModel)) {
      GTEST_SKIP() << "model not found (" << kModel << "); it lives in ../shared";
    }
    llm_ = Llm::load(kModel, 2);
  }

  // The story's tokens, cut to `n` (BOS included).
  std::vector<int32_t> prompt(size_t n) const {
    auto ids = llm_->tokenizer->encode(kStory, true, false);
    EXPECT_GE(ids.size(), n);
    ids.resize(std::min(ids.size(), n));
    return ids;
  }

  static GenerationOptions greedy(size_t max_tokens, bool ignore_eos = true) {
    GenerationOptions o;
    o.max_tokens = max_tokens;
    o.ignore_eos = ignore_eos;
    o.sampling.temperature = 0;
    return o;
  }
  static GenerationOptions sampled(size_t max_tokens) {
    GenerationOptions o = greedy(max_tokens);
    o.sampling.temperature = 0.9f;
    o.sampling.top_k = 0;
    o.sampling.top_p = 1;
    o.sampling.min_p = 0;
    return o;
  }

  GenerationResult alone(const std::vector<int32_t>& p, GenerationOptions o, uint64_t seed, size_t ctx) {
    o.sampling.seed = seed;
    Generator gen(*llm_->model, *llm_->tokenizer, ctx);
    return gen.generate(p, o);
  }

  static SchedulerOptions options(size_t ctx_size, size_t block_tokens = 4) {
    SchedulerOptions opt;
    opt.ctx_size = ctx_size;
    opt.block_tokens = block_tokens;
    opt.max_kv_cache_bytes = 4u << 20;
    // The Generator's cache holds F32: with F16 keys/values a near-tie between two tokens can
    // go the other way (the story cut at 34..38 tokens does, greedy), whatever the batching.
    opt.kv_type = kernels::KvType::F32;
    return opt;
  }

  static std::vector<std::shared_ptr<RequestStream>> submit(Scheduler& s, const std::vector<int32_t>& p,
                                                            const GenerationOptions& o,
                                                            const std::vector<uint64_t>& seeds) {
    auto a = s.submit_choices({p, o, 1, {}}, seeds);
    EXPECT_EQ(a.status, AdmitStatus::Accepted) << a.message;
    EXPECT_EQ(a.choices.size(), a.status == AdmitStatus::Accepted ? seeds.size() : 0u);
    return a.choices;
  }

  // Every choice's text against the generator alone with its seed; then the pool is idle
  // (unless `others_run`: requests beside the choices may still hold blocks).
  // `expected`, when given, was computed before: the generator must not run on the model
  // while the scheduler computes on it (they share its scratch buffers and pool).
  void expect_choices(Scheduler& sched, const std::vector<int32_t>& p, const GenerationOptions& o,
                      const std::vector<uint64_t>& seeds, std::vector<GenerationResult> expected = {},
                      bool others_run = false) {
    if (expected.empty()) {
      for (uint64_t seed : seeds) expected.push_back(alone(p, o, seed, sched.options().ctx_size));
    }
    auto streams = submit(sched, p, o, seeds);
    ASSERT_EQ(streams.size(), seeds.size());
    for (size_t i = 0; i < seeds.size(); ++i) {
      EXPECT_EQ(streams[i]->wait_all(), expected[i].text) << "choice " << i;
      const auto sum = streams[i]->summary();
      EXPECT_EQ(sum.finish, expected[i].finish) << "choice " << i;
      EXPECT_EQ(sum.completion_tokens, expected[i].tokens.size()) << "choice " << i;
      EXPECT_EQ(sum.prompt_tokens, p.size());
      EXPECT_TRUE(sum.error.empty()) << sum.error;
    }
    if (!others_run) expect_idle(sched);
  }

  static void expect_idle(Scheduler& sched) {
    const auto st = sched.stats();
    EXPECT_EQ(st.running, 0u);
    EXPECT_EQ(st.blocks.used, 0u);
    EXPECT_EQ(st.blocks.free + st.blocks.cached, st.blocks.total);
    for (size_t w : st.waiting_by_priority) EXPECT_EQ(w, 0u);
  }

  std::unique_ptr<Llm> llm_;
};

// The counters say the prompt was computed once: the other three choices took it from the
// first's blocks. Both shapes of the prompt's end: a partial last block (copied) and a
// prompt filling whole blocks (nothing to copy).
TEST_F(SchedulerChoicesTest, GreedyChoicesPrefillOnceAndMatchTheGeneratorAlone) {
  for (size_t len : {38u, 40u}) {
    SCOPED_TRACE(len);
    Scheduler sched(*llm_, options(128));
    const auto p = prompt(len);
    expect_choices(sched, p, greedy(24), {1, 2, 3, 4});
    const auto st = sched.stats();
    EXPECT_EQ(st.prompt_tokens, p.size());
    EXPECT_EQ(st.shared_prompt_tokens, 3 * p.size());
    EXPECT_EQ(st.finished, 4u);
  }
}

TEST_F(SchedulerChoicesTest, SeededChoicesAreEachTheGeneratorsWithTheirSeed) {
  auto opt = options(128);
  opt.prefix_caching = false;  // shared blocks that are never registered
  Scheduler sched(*llm_, opt);
  expect_choices(sched, prompt(37), sampled(30), {7, 8, 9});
  EXPECT_EQ(sched.stats().shared_prompt_tokens, 2 * 37u);
}

// Prefill in chunks alongside another request's decodes: the fork happens in whichever step
// computes the prompt's last token.
TEST_F(SchedulerChoicesTest, ChunkedPrefillBesideOtherRequests) {
  auto opt = options(128);
  opt.max_batch_tokens = 8;
  opt.max_wait_time = 0;
  const auto other_prompt = prompt(12);
  const auto other_expected = alone(other_prompt, greedy(40), 0, opt.ctx_size);
  const auto p = prompt(41);
  std::vector<GenerationResult> expected;
  for (uint64_t seed : {5, 6, 7}) expected.push_back(alone(p, sampled(20), seed, opt.ctx_size));
  Scheduler sched(*llm_, opt);
  auto other = sched.submit({other_prompt, greedy(40), 1, {}});
  ASSERT_EQ(other.status, AdmitStatus::Accepted);
  expect_choices(sched, p, sampled(20), {5, 6, 7}, expected, /*others_run=*/true);
  EXPECT_EQ(other.stream->wait_all(), other_expected.text);
  expect_idle(sched);
}

// A pool of one full context: four choices growing past it are preempted and recomputed
// (from the prefix cache and their own tokens) and still give the generator's text.
TEST_F(SchedulerChoicesTest, PreemptedChoicesStillGiveTheirText) {
  auto opt = options(96);
  opt.max_kv_cache_bytes = 1;
  Scheduler sched(*llm_, opt);
  expect_choices(sched, prompt(30), sampled(60), {1, 2, 3, 4});
  EXPECT_GT(sched.stats().preemptions, 0u);
}

// A pool of one context, nearly filled by the prompt: the first choice is admitted alone,
// forks what the pool still allows, and the forks without a block wait as a group and run
// (recomputing from the prefix cache) once blocks come back.
TEST_F(SchedulerChoicesTest, ATinyPoolForksWhatFitsAndRunsTheRestLater) {
  auto opt = options(64);
  opt.max_kv_cache_bytes = 1;  // 16 blocks of 4
  Scheduler sched(*llm_, opt);
  const auto p = prompt(58);   // 15 blocks, the last one partial
  expect_choices(sched, p, sampled(4), {1, 2, 3});
  const auto st = sched.stats();
  EXPECT_EQ(st.blocks.total, 16u);
  EXPECT_EQ(st.shared_prompt_tokens, p.size());  // one fork had a block for its copy
  EXPECT_GT(st.prompt_tokens, p.size());         // the other computed (part of) it again
}

// More choices than a batch holds: choice 0 carries max_batch_size - 1 of them, the rest are
// requests of their own; all give their text.
TEST_F(SchedulerChoicesTest, ChoicesBeyondTheBatchRunAsTheirOwnRequests) {
  auto opt = options(128);
  opt.max_batch_size = 2;
  Scheduler sched(*llm_, opt);
  const auto p = prompt(33);
  expect_choices(sched, p, sampled(12), {11, 12, 13, 14, 15});
  EXPECT_EQ(sched.stats().shared_prompt_tokens, p.size());  // one fork
}

TEST_F(SchedulerChoicesTest, WithADraftModelTheChoicesKeepTheTargetsText) {
  auto draft = DraftModel::load(kModel, *llm_);
  auto opt = options(128);
  Scheduler sched(*llm_, opt, draft->model.get());
  expect_choices(sched, prompt(35), greedy(30), {1, 2, 3});
  const auto st = sched.stats();
  EXPECT_EQ(st.prompt_tokens, 35u);
  EXPECT_GT(st.spec.rounds, 0u);
}

// Cancelling every choice mid-stream (after the fork) frees every block once.
TEST_F(SchedulerChoicesTest, CancelledMidStreamFreesEveryBlock) {
  Scheduler sched(*llm_, options(256));
  Gate gate(3);  // the prefill step and two decodes pass
  sched.set_step_observer([&](const StepInfo&) { gate.pass(); });
  auto streams = submit(sched, prompt(38), greedy(200), {1, 2, 3});
  ASSERT_EQ(streams.size(), 3u);
  gate.wait_until_held();
  EXPECT_EQ(sched.stats().running, 3u);
  EXPECT_GT(sched.stats().blocks.used, 0u);
  for (auto& s : streams) s->cancel();
  gate.open();
  for (auto& s : streams) {
    s->wait_all();
    EXPECT_EQ(s->summary().finish, FinishReason::Cancelled);
    EXPECT_LT(s->summary().completion_tokens, 200u);
  }
  expect_idle(sched);
  EXPECT_EQ(sched.stats().cancelled, 3u);
}

// One choice cancelled mid-stream: the others, reading the blocks it shared, are unaffected.
TEST_F(SchedulerChoicesTest, OneChoiceCancelledTheOthersFinishUnchanged) {
  auto opt = options(256);
  Scheduler sched(*llm_, opt);
  const auto p = prompt(38);
  const auto expected = alone(p, greedy(60), 0, opt.ctx_size);
  auto streams = submit(sched, p, greedy(60), {1, 2, 3});
  ASSERT_EQ(streams.size(), 3u);
  std::string text;
  ASSERT_TRUE(streams[0]->next(text, 10000ms));
  streams[0]->cancel();
  streams[0]->wait_all();
  EXPECT_EQ(streams[0]->summary().finish, FinishReason::Cancelled);
  EXPECT_EQ(streams[1]->wait_all(), expected.text);
  EXPECT_EQ(streams[2]->wait_all(), expected.text);
  expect_idle(sched);
}

// Choice 0 cancelled while its prompt is still being prefilled: the others are queued again
// as a group, prefill the prompt (from the prefix cache as far as it holds it) and finish
// with the generator's text; a cancelled fork never starts.
TEST_F(SchedulerChoicesTest, FirstChoiceCancelledBeforeItsPromptIsDone) {
  auto opt = options(128);
  opt.max_batch_tokens = 8;  // a 41-token prompt takes six steps
  Scheduler sched(*llm_, opt);
  Gate gate;
  sched.set_step_observer([&](const StepInfo&) { gate.pass(); });
  const auto p = prompt(41);
  const auto expected = alone(p, greedy(20), 0, opt.ctx_size);
  auto streams = submit(sched, p, greedy(20), {1, 2, 3, 4});
  ASSERT_EQ(streams.size(), 4u);
  gate.wait_until_held();
  streams[0]->cancel();
  streams[3]->cancel();
  gate.open();
  streams[0]->wait_all();
  streams[3]->wait_all();
  EXPECT_EQ(streams[0]->summary().finish, FinishReason::Cancelled);
  EXPECT_EQ(streams[0]->summary().completion_tokens, 0u);
  EXPECT_EQ(streams[3]->summary().finish, FinishReason::Cancelled);
  EXPECT_EQ(streams[1]->wait_all(), expected.text);
  EXPECT_EQ(streams[2]->wait_all(), expected.text);
  expect_idle(sched);
  EXPECT_EQ(sched.stats().shared_prompt_tokens, p.size());  // choice 2 forked from choice 1
}

// All or nothing: choices over max_concurrent or the user's cap are refused together and
// nothing is queued or held; a group that fits is admitted.
TEST_F(SchedulerChoicesTest, AdmissionRefusesAllChoicesOrNone) {
  auto opt = options(128);
  opt.max_concurrent = 4;
  opt.max_per_user = 3;
  Scheduler sched(*llm_, opt);
  Gate gate;
  sched.set_step_observer([&](const StepInfo&) { gate.pass(); });
  const auto p = prompt(20);
  auto running = sched.submit({p, greedy(50), 1, "alice"});
  ASSERT_EQ(running.status, AdmitStatus::Accepted);
  gate.wait_until_held();

  auto over = sched.submit_choices({p, greedy(4), 1, "bob"}, std::vector<uint64_t>{1, 2, 3, 4});
  EXPECT_EQ(over.status, AdmitStatus::Overloaded);
  EXPECT_NE(over.message.find("4 choices"), std::string::npos) << over.message;
  EXPECT_TRUE(over.choices.empty());
  auto capped = sched.submit_choices({p, greedy(4), 1, "alice"}, std::vector<uint64_t>{1, 2, 3});
  EXPECT_EQ(capped.status, AdmitStatus::UserLimit);
  auto none = sched.submit_choices({p, greedy(4), 1, "bob"}, std::vector<uint64_t>{});
  EXPECT_EQ(none.status, AdmitStatus::Invalid);
  auto st = sched.stats();
  EXPECT_EQ(st.rejected, 3u);
  for (size_t w : st.waiting_by_priority) EXPECT_EQ(w, 0u);

  auto fits = sched.submit_choices({p, greedy(4), 1, "bob"}, std::vector<uint64_t>{1, 2, 3});
  EXPECT_EQ(fits.status, AdmitStatus::Accepted);
  EXPECT_EQ(sched.stats().waiting_by_priority[1], 3u);
  gate.open();
  running.stream->cancel();
  for (auto& s : fits.choices) {
    s->wait_all();
    EXPECT_EQ(s->summary().finish, FinishReason::Length);
  }
  running.stream->wait_all();
  expect_idle(sched);
}

// A first choice that times out in the queue takes its forks with it.
TEST_F(SchedulerChoicesTest, QueueTimeoutEndsEveryChoice) {
  auto opt = options(128);
  opt.max_batch_size = 2;
  opt.queue_timeout = 0.05;
  Scheduler sched(*llm_, opt);
  Gate gate;
  sched.set_step_observer([&](const StepInfo&) { gate.pass(); });
  const auto p = prompt(20);
  auto running = sched.submit({p, greedy(50), 1, {}});
  ASSERT_EQ(running.status, AdmitStatus::Accepted);
  gate.wait_until_held();
  // Two choices need both slots; one is taken, so they wait past the timeout.
  auto waiting = submit(sched, p, greedy(4), {1, 2});
  std::this_thread::sleep_for(100ms);
  gate.open();
  for (auto& s : waiting) {
    s->wait_all();
    EXPECT_EQ(s->summary().finish, FinishReason::Timeout);
  }
  running.stream->cancel();
  running.stream->wait_all();
  expect_idle(sched);
  EXPECT_EQ(sched.stats().timed_out, 2u);
}

}  // namespace
}  // namespace ragd::engine
